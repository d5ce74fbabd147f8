/** The `users` view: one row per user for lists and filters (single users are read from their stream). */
import type { Kysely } from 'kysely';
import { likePrefix } from '../adapters/readmodel/like-prefix.js';
import type { ReadModel } from '../adapters/readmodel/schema.js';
import type { RecordedDomainEvent } from '../domain/events/catalogue.js';
import { foldCase } from '../domain/users/reservation.js';
import type { Projection } from './projection.js';

async function apply(trx: Kysely<ReadModel>, events: readonly RecordedDomainEvent[]): Promise<void> {
  for (const event of events) {
    const at = event.recordedAt;
    const row = (userId: number) => trx.updateTable('users').where('user_id', '=', userId);
    switch (event.type) {
      case 'UserCreated': {
        const d = event.data;
        const by = d.createdBy;
        await trx
          .insertInto('users')
          .values({
            user_id: d.userId,
            user_name: d.userName,
            user_name_folded: foldCase(d.userName),
            email_address: d.emailAddress,
            email_folded: foldCase(d.emailAddress),
            first_name: d.firstName,
            last_name: d.lastName,
            enabled: d.enabled,
            rights: d.rights,
            home_folder: d.homeFolder,
            quota_bytes: d.quotaBytes ?? null,
            max_file_bytes: d.maxFileBytes ?? null,
            created_by:
              by.kind === 'admin'
                ? `admin:${by.userId}`
                : by.kind === 'ticket'
                  ? `ticket:${by.applicationId}`
                  : 'bootstrap',
            created_at: at,
            updated_at: at,
          })
          .execute();
        break;
      }
      case 'UserUpdated': {
        const c = event.data.changes;
        await row(event.data.userId)
          .set({
            ...(c.emailAddress === undefined
              ? {}
              : { email_address: c.emailAddress, email_folded: foldCase(c.emailAddress) }),
            ...(c.firstName === undefined ? {} : { first_name: c.firstName }),
            ...(c.lastName === undefined ? {} : { last_name: c.lastName }),
            ...(c.rights === undefined ? {} : { rights: c.rights }),
            ...(c.homeFolder === undefined ? {} : { home_folder: c.homeFolder }),
            ...(c.quotaBytes === undefined ? {} : { quota_bytes: c.quotaBytes }),
            ...(c.maxFileBytes === undefined ? {} : { max_file_bytes: c.maxFileBytes }),
            updated_at: at,
          })
          .execute();
        break;
      }
      case 'UserPasswordChanged':
        await row(event.data.userId).set({ updated_at: at }).execute();
        break;
      case 'UserDisabled':
      case 'UserEnabled':
        await row(event.data.userId)
          .set({ enabled: event.type === 'UserEnabled', updated_at: at })
          .execute();
        break;
      case 'UserKeyAdded':
      case 'UserKeyRemoved':
        await row(event.data.userId)
          .set((eb) => ({
            ssh_key_count: eb('ssh_key_count', '+', event.type === 'UserKeyAdded' ? 1 : -1),
            updated_at: at,
          }))
          .execute();
        break;
      case 'UserDeleted':
        await row(event.data.userId).set({ deleted_at: at, updated_at: at }).execute();
        break;
    }
  }
}

export const usersProjection: Projection = {
  name: 'users',
  handles: [
    'UserCreated',
    'UserUpdated',
    'UserPasswordChanged',
    'UserDisabled',
    'UserEnabled',
    'UserKeyAdded',
    'UserKeyRemoved',
    'UserDeleted',
  ],
  tables: ['users'],
  apply,
};

export interface UserFilters {
  readonly userName?: string | undefined;
  readonly emailAddress?: string | undefined;
  readonly enabled?: boolean | undefined;
  readonly right?: string | undefined;
}

/** Users that are not deleted, in id order after `afterUserId`, at most `limit` + 1. */
export async function listUsers(
  db: Kysely<ReadModel>,
  filters: UserFilters,
  afterUserId: number | undefined,
  limit: number,
) {
  let query = db
    .selectFrom('users')
    .select([
      'user_id',
      'user_name',
      'email_address',
      'first_name',
      'last_name',
      'enabled',
      'rights',
      'quota_bytes',
      'max_file_bytes',
      'created_at',
    ])
    .where('deleted_at', 'is', null)
    .where('user_id', '>', afterUserId ?? 0)
    .orderBy('user_id')
    .limit(limit + 1);
  if (filters.userName !== undefined)
    query = query.where('user_name_folded', 'like', likePrefix(foldCase(filters.userName)));
  if (filters.emailAddress !== undefined)
    query = query.where('email_folded', 'like', likePrefix(foldCase(filters.emailAddress)));
  if (filters.enabled !== undefined) query = query.where('enabled', '=', filters.enabled);
  if (filters.right !== undefined) {
    const right = filters.right;
    query = query.where((eb) => eb(eb.val(right), '=', eb.fn.any('rights')));
  }
  const rows = await query.execute();
  return rows.map((r) => ({
    userId: r.user_id,
    userName: r.user_name,
    emailAddress: r.email_address,
    firstName: r.first_name,
    lastName: r.last_name,
    enabled: r.enabled,
    rights: r.rights,
    quotaBytes: r.quota_bytes === null ? null : Number(r.quota_bytes),
    maxFileBytes: r.max_file_bytes === null ? null : Number(r.max_file_bytes),
    createdAt: new Date(r.created_at).toISOString(),
  }));
}
