/** One stream per user (`user-<id>`): profile, rights, permissions, keys, credential version. */
import type { Static } from '@sinclair/typebox';
import { type Decider, DomainError } from '../decider.js';
import type { EventOfType } from '../events/catalogue.js';
import type { CreatedBy, PathPermissions, Right } from '../events/user-events.js';
import { requireValidHomeFolder, requireValidUserName } from './user-name.js';

export type UserRight = Static<typeof Right>;
export type UserPathPermissions = Static<typeof PathPermissions>;
export type UserCreatedBy = Static<typeof CreatedBy>;

export type UserEvent = EventOfType<
  | 'UserCreated'
  | 'UserUpdated'
  | 'UserPasswordChanged'
  | 'UserDisabled'
  | 'UserEnabled'
  | 'UserDeleted'
  | 'UserKeyAdded'
  | 'UserKeyRemoved'
>;

/** A user's own storage limits; null: the server's. */
export interface UserStorageLimits {
  readonly quotaBytes: number | null;
  readonly maxFileBytes: number | null;
}

export interface UserProfile extends UserStorageLimits {
  readonly userId: number;
  readonly userName: string;
  readonly emailAddress: string;
  readonly firstName: string;
  readonly lastName: string;
  readonly enabled: boolean;
  readonly rights: readonly UserRight[];
  readonly homeFolder: string;
  readonly permissions: readonly UserPathPermissions[];
  readonly credentialVersion: number | null;
  readonly keys: ReadonlyArray<{
    fingerprint: string;
    algorithm: string;
    publicKey: string;
    comment: string;
  }>;
}

/**
 * Whether a user holds any right (admin, auditor, impersonate): such users are reached neither
 * by a ticket nor by impersonation, so no one gains a right that way.
 */
export const isPrivileged = (user: Pick<UserProfile, 'rights'>): boolean => user.rights.length > 0;

export type UserState =
  | { status: 'absent' }
  | { status: 'deleted'; userId: number }
  | ({ status: 'active' } & UserProfile);

export interface PublicKeyInput {
  readonly fingerprint: string;
  readonly algorithm: string;
  readonly publicKey: string;
  readonly comment: string;
}

export type UserChanges = EventOfType<'UserUpdated'>['data']['changes'];

export type UserCommand =
  | {
      type: 'CreateUser';
      userId: number;
      userName: string;
      emailAddress: string;
      firstName: string;
      lastName: string;
      rights: readonly UserRight[];
      homeFolder: string;
      permissions: readonly UserPathPermissions[];
      credentialVersion: number | null;
      keys: readonly PublicKeyInput[];
      createdBy: UserCreatedBy;
      quotaBytes?: number | null;
      maxFileBytes?: number | null;
    }
  | { type: 'UpdateUser'; userId: number; changes: Partial<UserChanges>; by: number }
  | { type: 'ChangePassword'; userId: number; credentialVersion: number; by: number }
  | { type: 'SetUserEnabled'; userId: number; enabled: boolean; by: number }
  | { type: 'ReplaceKeys'; userId: number; keys: readonly PublicKeyInput[]; by: number }
  | { type: 'DeleteUser'; userId: number; by: number };

export const userStream = (userId: number) => `user-${userId}`;

function requireActive(state: UserState, userId: number): Extract<UserState, { status: 'active' }> {
  if (state.status === 'active') return state;
  if (state.status === 'deleted') throw new DomainError('user-deleted', `user ${userId} has been deleted`);
  throw new DomainError('user-unknown', `user ${userId} does not exist`);
}

function sameSet<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/** Only the fields that really change (a PATCH repeating current values records nothing). */
function effectiveChanges(state: UserProfile, changes: Partial<UserChanges>): Partial<UserChanges> {
  const result: Partial<UserChanges> = {};
  if (changes.emailAddress !== undefined && changes.emailAddress !== state.emailAddress) {
    result.emailAddress = changes.emailAddress;
  }
  if (changes.firstName !== undefined && changes.firstName !== state.firstName)
    result.firstName = changes.firstName;
  if (changes.lastName !== undefined && changes.lastName !== state.lastName)
    result.lastName = changes.lastName;
  if (changes.homeFolder !== undefined && changes.homeFolder !== state.homeFolder)
    result.homeFolder = changes.homeFolder;
  if (changes.rights !== undefined && !sameSet(changes.rights, state.rights))
    result.rights = [...changes.rights];
  if (
    changes.permissions !== undefined &&
    JSON.stringify(changes.permissions) !== JSON.stringify(state.permissions)
  ) {
    result.permissions = changes.permissions.map((p) => ({ path: p.path, permissions: [...p.permissions] }));
  }
  if (changes.quotaBytes !== undefined && changes.quotaBytes !== state.quotaBytes)
    result.quotaBytes = changes.quotaBytes;
  if (changes.maxFileBytes !== undefined && changes.maxFileBytes !== state.maxFileBytes)
    result.maxFileBytes = changes.maxFileBytes;
  return result;
}

function keyEvents(state: UserProfile, keys: readonly PublicKeyInput[], by: number): UserEvent[] {
  const wanted = new Map(keys.map((k) => [k.fingerprint, k]));
  if (wanted.size !== keys.length)
    throw new DomainError('duplicate-key', 'the same public key is listed twice');
  const events: UserEvent[] = [];
  for (const key of state.keys) {
    if (!wanted.has(key.fingerprint)) {
      events.push({
        type: 'UserKeyRemoved',
        data: { userId: state.userId, fingerprint: key.fingerprint, changedBy: by },
      });
    }
  }
  for (const key of keys) {
    if (!state.keys.some((k) => k.fingerprint === key.fingerprint)) {
      events.push({ type: 'UserKeyAdded', data: { userId: state.userId, ...key, changedBy: by } });
    }
  }
  return events;
}

export const userDecider: Decider<UserCommand, UserEvent, UserState> = {
  initialState: () => ({ status: 'absent' }),
  decide(command, state) {
    switch (command.type) {
      case 'CreateUser': {
        if (state.status !== 'absent')
          throw new DomainError('user-exists', `user ${command.userId} already exists`);
        requireValidUserName(command.userName);
        requireValidHomeFolder(command.homeFolder);
        const created: UserEvent = {
          type: 'UserCreated',
          data: {
            userId: command.userId,
            userName: command.userName,
            emailAddress: command.emailAddress,
            firstName: command.firstName,
            lastName: command.lastName,
            enabled: true,
            rights: [...command.rights],
            homeFolder: command.homeFolder,
            permissions: command.permissions.map((p) => ({ path: p.path, permissions: [...p.permissions] })),
            createdBy: command.createdBy,
            credentialVersion: command.credentialVersion,
            ...(command.quotaBytes == null ? {} : { quotaBytes: command.quotaBytes }),
            ...(command.maxFileBytes == null ? {} : { maxFileBytes: command.maxFileBytes }),
          },
        };
        const by = command.createdBy.kind === 'admin' ? command.createdBy.userId : command.userId;
        const profile = userDecider.evolve(state, created) as Extract<UserState, { status: 'active' }>;
        return [created, ...keyEvents(profile, command.keys, by)];
      }
      case 'UpdateUser': {
        const user = requireActive(state, command.userId);
        if (command.changes.homeFolder !== undefined) requireValidHomeFolder(command.changes.homeFolder);
        const changes = effectiveChanges(user, command.changes);
        if (Object.keys(changes).length === 0) return [];
        return [{ type: 'UserUpdated', data: { userId: user.userId, changes, updatedBy: command.by } }];
      }
      case 'ChangePassword': {
        const user = requireActive(state, command.userId);
        if (user.credentialVersion !== null && command.credentialVersion <= user.credentialVersion) {
          throw new DomainError('stale-credential', 'a newer password was set meanwhile');
        }
        return [
          {
            type: 'UserPasswordChanged',
            data: {
              userId: user.userId,
              credentialVersion: command.credentialVersion,
              changedBy: command.by,
            },
          },
        ];
      }
      case 'SetUserEnabled': {
        const user = requireActive(state, command.userId);
        if (user.enabled === command.enabled) return [];
        const data = { userId: user.userId, changedBy: command.by };
        return [command.enabled ? { type: 'UserEnabled', data } : { type: 'UserDisabled', data }];
      }
      case 'ReplaceKeys':
        return keyEvents(requireActive(state, command.userId), command.keys, command.by);
      case 'DeleteUser': {
        const user = requireActive(state, command.userId);
        return [{ type: 'UserDeleted', data: { userId: user.userId, deletedBy: command.by } }];
      }
      default: {
        const never: never = command;
        throw new Error(`unhandled command ${JSON.stringify(never)}`);
      }
    }
  },
  evolve(state, event) {
    if (event.type === 'UserCreated') {
      const d = event.data;
      return {
        status: 'active',
        userId: d.userId,
        userName: d.userName,
        emailAddress: d.emailAddress,
        firstName: d.firstName,
        lastName: d.lastName,
        enabled: d.enabled,
        rights: d.rights,
        homeFolder: d.homeFolder,
        permissions: d.permissions,
        credentialVersion: d.credentialVersion,
        quotaBytes: d.quotaBytes ?? null,
        maxFileBytes: d.maxFileBytes ?? null,
        keys: [],
      };
    }
    if (state.status !== 'active') return state;
    switch (event.type) {
      case 'UserUpdated':
        return { ...state, ...event.data.changes };
      case 'UserPasswordChanged':
        return { ...state, credentialVersion: event.data.credentialVersion };
      case 'UserDisabled':
        return { ...state, enabled: false };
      case 'UserEnabled':
        return { ...state, enabled: true };
      case 'UserDeleted':
        return { status: 'deleted', userId: state.userId };
      case 'UserKeyAdded': {
        const { fingerprint, algorithm, publicKey, comment } = event.data;
        return { ...state, keys: [...state.keys, { fingerprint, algorithm, publicKey, comment }] };
      }
      case 'UserKeyRemoved':
        return { ...state, keys: state.keys.filter((k) => k.fingerprint !== event.data.fingerprint) };
      default:
        return state;
    }
  },
};
