/**
 * The `sessions` view: one row per session, how and when it ended, and what happened in it
 * (connections, uploads, downloads and deletes, bytes in and out, last activity). The session
 * API (src/api/sessions/view-routes.ts) lists it; the expiry scheduler asks it which sessions are due.
 * User and application names are joined at query time (names never change).
 */
import { type Insertable, type Kysely, sql } from 'kysely';
import type { ReadModel, SessionsTable } from '../adapters/readmodel/schema.js';
import type { RecordedDomainEvent } from '../domain/events/catalogue.js';
import type { Projection } from './projection.js';

type OpenedRow = Insertable<SessionsTable>;

interface Ending {
  ended_at: string;
  end_reason: string;
  replaced_by: string | null;
}

interface Counters {
  connections: number;
  uploads: number;
  downloads: number;
  deletes: number;
  bytesIn: number;
  bytesOut: number;
  last: string;
}

/**
 * A batch in three statements at most: new sessions (one multi-row INSERT), ends (the first end
 * of each session wins, as it did one event at a time), then the counters of every session the
 * batch touched. A session's end or activity always follows its SessionOpened in the log, so
 * applying them after the batch's inserts gives the rows one-at-a-time application would.
 */
async function apply(trx: Kysely<ReadModel>, events: readonly RecordedDomainEvent[]): Promise<void> {
  const opened: OpenedRow[] = [];
  const endings = new Map<string, Ending>();
  const counters = new Map<string, Counters>();
  const count = (sessionId: string | undefined, at: Date, change: Partial<Counters>) => {
    if (sessionId === undefined) return;
    let c = counters.get(sessionId);
    if (!c) {
      c = { connections: 0, uploads: 0, downloads: 0, deletes: 0, bytesIn: 0, bytesOut: 0, last: '' };
      counters.set(sessionId, c);
    }
    c.connections += change.connections ?? 0;
    c.uploads += change.uploads ?? 0;
    c.downloads += change.downloads ?? 0;
    c.deletes += change.deletes ?? 0;
    c.bytesIn += change.bytesIn ?? 0;
    c.bytesOut += change.bytesOut ?? 0;
    const iso = at.toISOString();
    if (iso > c.last) c.last = iso;
  };
  const end = (sessionId: string, ending: Ending) => {
    if (!endings.has(sessionId)) endings.set(sessionId, ending);
  };
  for (const event of events) {
    const actorSession = event.metadata.actor.sessionId;
    switch (event.type) {
      case 'SessionOpened': {
        const d = event.data;
        opened.push({
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
        });
        break;
      }
      case 'SessionReplaced':
        end(event.data.sessionId, {
          ended_at: event.recordedAt.toISOString(),
          end_reason: 'replaced',
          replaced_by: event.data.replacedBy,
        });
        break;
      case 'SessionClosed':
        end(event.data.sessionId, {
          ended_at: event.data.closedAt,
          end_reason: event.data.reason,
          replaced_by: null,
        });
        break;
      case 'SessionExpired':
        end(event.data.sessionId, {
          ended_at: event.data.expiredAt,
          end_reason: 'expired',
          replaced_by: null,
        });
        break;
      case 'ConnectionOpened':
        count(event.data.sessionId, event.recordedAt, { connections: 1 });
        break;
      case 'FileUploaded':
        count(actorSession, event.recordedAt, { uploads: 1, bytesIn: event.data.size });
        break;
      case 'FileDownloaded':
        count(actorSession, event.recordedAt, { downloads: 1, bytesOut: event.data.bytesSent });
        break;
      case 'FileDeleted':
        count(actorSession, event.recordedAt, { deletes: 1 });
        break;
    }
  }
  if (opened.length > 0) await trx.insertInto('sessions').values(opened).execute();
  if (endings.size > 0) {
    const ids = [...endings.keys()];
    const list = [...endings.values()];
    // Unqualified table name: a rebuild points search_path at its scratch schema.
    await sql`
      UPDATE sessions s
      SET ended_at = v.ended_at, end_reason = v.end_reason, replaced_by = v.replaced_by
      FROM unnest(${ids}::uuid[], ${list.map((e) => e.ended_at)}::timestamptz[],
        ${list.map((e) => e.end_reason)}::text[], ${list.map((e) => e.replaced_by)}::uuid[])
        AS v(session_id, ended_at, end_reason, replaced_by)
      WHERE s.session_id = v.session_id AND s.ended_at IS NULL`.execute(trx);
  }
  if (counters.size > 0) {
    const ids = [...counters.keys()];
    const list = [...counters.values()];
    const column = (key: keyof Counters) => list.map((c) => c[key]);
    await sql`
      UPDATE sessions s
      SET connections = s.connections + v.connections, uploads = s.uploads + v.uploads,
        downloads = s.downloads + v.downloads, deletes = s.deletes + v.deletes,
        bytes_in = s.bytes_in + v.bytes_in, bytes_out = s.bytes_out + v.bytes_out,
        last_activity_at = greatest(s.last_activity_at, v.last)
      FROM unnest(${ids}::uuid[], ${column('connections')}::integer[], ${column('uploads')}::integer[],
        ${column('downloads')}::integer[], ${column('deletes')}::integer[], ${column('bytesIn')}::bigint[],
        ${column('bytesOut')}::bigint[], ${column('last')}::timestamptz[])
        AS v(session_id, connections, uploads, downloads, deletes, bytes_in, bytes_out, last)
      WHERE s.session_id = v.session_id`.execute(trx);
  }
}

export const sessionsProjection: Projection = {
  name: 'sessions',
  handles: [
    'SessionOpened',
    'SessionReplaced',
    'SessionClosed',
    'SessionExpired',
    'ConnectionOpened',
    'FileUploaded',
    'FileDownloaded',
    'FileDeleted',
  ],
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

export type SessionState = 'open' | 'ended' | 'closed' | 'replaced' | 'expired';

export interface SessionFilters {
  readonly userId?: number | undefined;
  readonly applicationId?: number | undefined;
  readonly kind?: string | undefined;
  readonly state?: SessionState | undefined;
  readonly ip?: string | undefined;
  readonly userString?: string | undefined;
  /** Opened at or after. */
  readonly from?: Date | undefined;
  /** Opened before. */
  readonly to?: Date | undefined;
}

export interface SessionRow {
  readonly sessionId: string;
  readonly position: number;
  readonly userId: number;
  readonly userName: string | null;
  readonly applicationId: number;
  readonly applicationName: string | null;
  readonly kind: string;
  readonly method: string;
  readonly clientVersion: string | null;
  readonly clientIp: string;
  readonly callerIp: string;
  readonly userString: string | null;
  readonly impersonator: { userId: number; userName: string | null; sessionId: string } | null;
  readonly openedAt: string;
  readonly expiresAt: string | null;
  readonly state: 'open' | 'ended';
  readonly endedAt: string | null;
  readonly endReason: string | null;
  readonly replacedBy: string | null;
  readonly connections: number;
  readonly uploads: number;
  readonly downloads: number;
  readonly deletes: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly lastActivityAt: string | null;
}

const iso = (value: Date | string | null): string | null =>
  value === null ? null : new Date(value).toISOString();

function sessionQuery(db: Kysely<ReadModel>, builtInNames: ReadonlyMap<number, string>) {
  const query = db
    .selectFrom('sessions as s')
    .leftJoin('users as u', 'u.user_id', 's.user_id')
    .leftJoin('applications as a', 'a.application_id', 's.application_id')
    .leftJoin('users as iu', 'iu.user_id', 's.impersonator_user_id')
    .selectAll('s')
    .select(['u.user_name as user_name', 'a.name as application_name', 'iu.user_name as impersonator_name']);
  const toRow = (r: Awaited<ReturnType<typeof query.executeTakeFirstOrThrow>>): SessionRow => ({
    sessionId: r.session_id,
    position: Number(r.opened_position),
    userId: r.user_id,
    userName: r.user_name,
    applicationId: r.application_id,
    applicationName: r.application_name ?? builtInNames.get(r.application_id) ?? null,
    kind: r.kind,
    method: r.method,
    clientVersion: r.client_version,
    clientIp: r.client_ip,
    callerIp: r.caller_ip,
    userString: r.user_string,
    impersonator:
      r.impersonator_user_id === null || r.impersonator_session_id === null
        ? null
        : {
            userId: r.impersonator_user_id,
            userName: r.impersonator_name,
            sessionId: r.impersonator_session_id,
          },
    openedAt: new Date(r.opened_at).toISOString(),
    expiresAt: iso(r.expires_at),
    state: r.ended_at === null ? 'open' : 'ended',
    endedAt: iso(r.ended_at),
    endReason: r.end_reason,
    replacedBy: r.replaced_by,
    connections: r.connections,
    uploads: r.uploads,
    downloads: r.downloads,
    deletes: r.deletes,
    bytesIn: Number(r.bytes_in),
    bytesOut: Number(r.bytes_out),
    lastActivityAt: iso(r.last_activity_at),
  });
  return { query, toRow };
}

/**
 * Sessions matching `filters` in the order they were opened (global position of SessionOpened,
 * ascending or descending), after the position `after`, at most `limit` + 1 rows.
 */
export async function listSessions(
  db: Kysely<ReadModel>,
  builtInNames: ReadonlyMap<number, string>,
  filters: SessionFilters,
  page: { after: number | undefined; limit: number; order: 'asc' | 'desc' },
): Promise<SessionRow[]> {
  const { query, toRow } = sessionQuery(db, builtInNames);
  let q = query.orderBy('s.opened_position', page.order).limit(page.limit + 1);
  if (page.after !== undefined)
    q = q.where('s.opened_position', page.order === 'asc' ? '>' : '<', String(page.after));
  if (filters.userId !== undefined) q = q.where('s.user_id', '=', filters.userId);
  if (filters.applicationId !== undefined) q = q.where('s.application_id', '=', filters.applicationId);
  if (filters.kind !== undefined) q = q.where('s.kind', '=', filters.kind);
  if (filters.ip !== undefined) q = q.where('s.client_ip', '=', filters.ip);
  if (filters.userString !== undefined) q = q.where('s.user_string', '=', filters.userString);
  if (filters.from !== undefined) q = q.where('s.opened_at', '>=', filters.from);
  if (filters.to !== undefined) q = q.where('s.opened_at', '<', filters.to);
  switch (filters.state) {
    case 'open':
      q = q.where('s.ended_at', 'is', null);
      break;
    case 'ended':
      q = q.where('s.ended_at', 'is not', null);
      break;
    case 'closed':
      q = q.where('s.end_reason', 'in', ['closed', 'superseded']);
      break;
    case 'replaced':
    case 'expired':
      q = q.where('s.end_reason', '=', filters.state);
      break;
  }
  return (await q.execute()).map(toRow);
}

export async function getSession(
  db: Kysely<ReadModel>,
  builtInNames: ReadonlyMap<number, string>,
  sessionId: string,
): Promise<SessionRow | undefined> {
  const { query, toRow } = sessionQuery(db, builtInNames);
  const row = await query.where('s.session_id', '=', sessionId).executeTakeFirst();
  return row ? toRow(row) : undefined;
}
