/**
 * Who a flow acts as when it touches a user's files: that user (the events land in their view
 * and audit), through application 5 (Sluice flows), the delivery as the session, with the
 * rights the flow needs in its own folder only — whatever the user's own rights are (an inbox
 * is often upload-only for its partner).
 */
import { BuiltInApplication } from '../../domain/applications/built-in.js';
import type { FilePermission } from '../../domain/files/permissions.js';
import type { UserProfile, UserState } from '../../domain/users/user.js';
import { DeliveryError } from '../deliveries/delivery-error.js';
import type { FileActor } from '../files/file-operations.js';

/** The address recorded for what Sluice does by itself (no client connected). */
export const INTERNAL_ADDRESS = 'internal';

export function flowActor(
  user: UserProfile,
  deliveryId: string,
  folder: string,
  permissions: readonly FilePermission[],
): FileActor {
  return {
    userId: user.userId,
    userName: user.userName,
    homeFolder: user.homeFolder,
    permissions: [{ path: folder, permissions }],
    quotaBytes: user.quotaBytes,
    maxFileBytes: user.maxFileBytes,
    sessionId: deliveryId,
    applicationId: BuiltInApplication.flows,
    userString: null,
    clientIp: INTERNAL_ADDRESS,
    protocol: 'flow',
  };
}

/** The user a delivery acts for, as its stream stands; a deleted or unknown one ends the delivery. */
export async function activeUser(
  users: { getUser(userId: number): Promise<UserState> },
  userId: number,
  role: string,
): Promise<UserProfile> {
  const user = await users.getUser(userId);
  if (user.status !== 'active')
    throw new DeliveryError(`the ${role} user ${userId} is ${user.status}`, false);
  return user;
}
