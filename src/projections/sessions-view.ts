/**
 * The `sessions` view: one row per session, how and when it ended. The audit issue extends
 * it (names, counts, bytes); the expiry scheduler asks it which sessions are due.
 */
import type { Kysely } from 'kysely';
import type { ReadModel } from '../adapters/readmodel/schema.js';
import type { RecordedDomainEvent } from '../domain/events/catalogue.js';
import type { Projection } from './projection.js';

async function apply(trx: Kysely<ReadModel>, events: readonly RecordedDomainEvent[]): Promise<void> {
  for (const event of events) {
    switch (event.type) {
      case 'SessionOpened': {
        const d = event.data;
        await trx
          .insertInto('sessions')
          .values({
            session_id: d.sessionId,
            user_id: d.userId,
            application_id: d.applicationId,
            kind: d.kind,
            method: d.method,
            client_version: d.clientVersion,
            client_ip: d.clientIp,
            caller_ip: d.callerIp,
            user_string: d.userString,
            impersonator_user_id: d.impersonator?.userId ?? null,
            impersonator_session_id: d.impersonator?.sessionId ?? null,
            opened_at: d.openedAt,
            opened_position: event.globalPosition,
            expires_at: d.expiresAt,
          })
          .execute();
        break;
      }
      case 'SessionReplaced':
        await trx
          .updateTable('sessions')
          .set({ ended_at: event.recordedAt, end_reason: 'replaced', replaced_by: event.data.replacedBy })
          .where('session_id', '=', event.data.sessionId)
          .where('ended_at', 'is', null)
          .execute();
        break;
      case 'SessionClosed':
        await trx
          .updateTable('sessions')
          .set({ ended_at: event.data.closedAt, end_reason: event.data.reason })
          .where('session_id', '=', event.data.sessionId)
          .where('ended_at', 'is', null)
          .execute();
        break;
      case 'SessionExpired':
        await trx
          .updateTable('sessions')
          .set({ ended_at: event.data.expiredAt, end_reason: 'expired' })
          .where('session_id', '=', event.data.sessionId)
          .where('ended_at', 'is', null)
          .execute();
        break;
    }
  }
}

export const sessionsProjection: Projection = {
  name: 'sessions',
  handles: ['SessionOpened', 'SessionReplaced', 'SessionClosed', 'SessionExpired'],
  tables: ['sessions'],
  apply,
};

/** Open sessions whose expiry time has passed, oldest first. */
export async function sessionsDueToExpire(
  db: Kysely<ReadModel>,
  now: Date,
  limit: number,
): Promise<string[]> {
  const rows = await db
    .selectFrom('sessions')
    .select('session_id')
    .where('ended_at', 'is', null)
    .where('expires_at', 'is not', null)
    .where('expires_at', '<=', now)
    .orderBy('expires_at')
    .limit(limit)
    .execute();
  return rows.map((r) => r.session_id);
}
