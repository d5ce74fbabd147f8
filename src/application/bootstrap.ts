/**
 * First start: an `admin` user with every right and the e-mail address MFT_ADMIN_EMAIL, its
 * password from MFT_ADMIN_PASSWORD or
 * generated and returned so the caller can print it once. Safe when several processes start
 * together: the name reservation lets exactly one create it.
 */
import { randomBytes } from 'node:crypto';
import { DomainError } from '../domain/decider.js';
import type { IdGenerator } from './ports.js';
import type { UserService } from './users.js';

export const ADMIN_USER_NAME = 'admin';

export async function ensureAdmin(
  users: UserService,
  configuredPassword: string | undefined,
  emailAddress: string,
  ids: IdGenerator,
): Promise<{ created: false } | { created: true; userId: number; generatedPassword: string | null }> {
  if ((await users.findUserId('userName', ADMIN_USER_NAME)) !== null) return { created: false };
  const generated = configuredPassword === undefined ? randomBytes(18).toString('base64url') : null;
  try {
    const { user } = await users.createUser(
      {
        userName: ADMIN_USER_NAME,
        emailAddress,
        firstName: 'Sluice',
        lastName: 'Administrator',
        password: configuredPassword ?? generated,
        rights: ['admin', 'auditor', 'impersonate'],
        homeFolder: '/admin',
        permissions: [],
        keys: [],
      },
      { kind: 'bootstrap' },
      { envelopeVersion: 1, correlationId: ids.uuid(), actor: { clientIp: 'local' } },
    );
    return { created: true, userId: user.userId, generatedPassword: generated };
  } catch (error) {
    if (error instanceof DomainError && error.code === 'user-name-taken') return { created: false };
    throw error;
  }
}
