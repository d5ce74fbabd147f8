/**
 * The audit view's write: a batch's rows (rows.ts) and the user names it teaches, prepared
 * ahead of their turn and written in one statement.
 */
import { type Kysely, sql } from 'kysely';
import type { ReadModel } from '../../adapters/readmodel/schema.js';
import type { RecordedDomainEvent } from '../../domain/events/catalogue.js';
import { foldCase } from '../../domain/users/reservation.js';
import type { DomainProjection } from '../projection.js';
import { auditedEventTypes, auditRow, type Row } from './rows.js';

/**
 * A PostgreSQL array literal (`{"a",NULL,"b"}`, `{1,NULL}`) of `values`, built here rather than
 * by the driver at send time, so that it is part of the work `prepare` does ahead.
 */
function pgArray(values: readonly (string | number | null)[]): string {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i += 1) {
    const value = values[i];
    if (value === null || value === undefined) parts[i] = 'NULL';
    else if (typeof value === 'number') parts[i] = String(value);
    else if (value.includes('"') || value.includes('\\')) parts[i] = `"${value.replace(/[\\"]/g, '\\$&')}"`;
    else parts[i] = `"${value}"`;
  }
  return `{${parts.join(',')}}`;
}

/**
 * Everything of a batch's write that needs no database: the rows, their names, the arrays.
 * Returns the write itself.
 */
function prepare(events: readonly RecordedDomainEvent[]): (trx: Kysely<ReadModel>) => Promise<void> {
  const rows: Row[] = [];
  /** Names this batch adds: users created, names tried in failed sign-ins. */
  const newNames = new Map<string, { name_folded: string; user_id: number; user_name: string }>();
  const names = new Map<number, string>();
  for (const event of events) {
    const row = auditRow(event);
    if (row) rows.push(row);
    if (event.type === 'UserCreated') {
      const { userId, userName } = event.data;
      names.set(userId, userName);
      newNames.set(`${userId}:${foldCase(userName)}`, {
        name_folded: foldCase(userName),
        user_id: userId,
        user_name: userName,
      });
    } else if (event.type === 'SignInFailed' && event.data.userName !== null && event.data.userId === null) {
      const folded = foldCase(event.data.userName);
      newNames.set(`0:${folded}`, { name_folded: folded, user_id: 0, user_name: event.data.userName });
    }
  }
  if (rows.length === 0) return async () => {};

  let latest = '';
  for (const row of rows) {
    // ISO 8601 UTC strings of one length compare as times.
    if (row.at < latest) row.at = latest;
    else latest = row.at;
  }
  const column = <K extends keyof Row>(key: K) => pgArray(rows.map((r) => r[key]));
  // Names the event gives (a failed sign-in's, a new user's) or the view already knows.
  const given = rows.map((r) => r.user_name ?? (r.user_id === null ? null : (names.get(r.user_id) ?? null)));
  const unnamed = [
    ...new Set(rows.flatMap((r, i) => (given[i] === null && r.user_id !== null ? [r.user_id] : []))),
  ];
  const insertNames = [...newNames.values()];
  // One statement: the rows, each joined with its user's name when the batch did not know it,
  // and `at` raised to the last row's. The batch's commit need not wait for the WAL flush
  // (synchronous_commit off): a crash may lose the last batches, rows and checkpoint together,
  // and the runner replays them, exactly once. Unqualified table names: a rebuild points
  // search_path at its scratch schema.
  const insertRows = sql`
    INSERT INTO audit_events (global_position, at, event_type, operation, outcome, user_id, user_name,
      user_name_folded, application_id, session_id, client_ip, user_string, protocol, path,
      previous_path, size, sha256, reason, target, detail)
    SELECT r.global_position, greatest(r.at, previous.at), r.event_type, r.operation, r.outcome, r.user_id,
      coalesce(r.user_name, n.user_name), coalesce(r.user_name_folded, n.name_folded),
      r.application_id, r.session_id, r.client_ip, r.user_string, r.protocol, r.path,
      r.previous_path, r.size, r.sha256, r.reason, r.target, r.detail
    FROM unnest(
      ${column('global_position')}::bigint[], ${column('at')}::timestamptz[], ${column('event_type')}::text[],
      ${column('operation')}::text[], ${column('outcome')}::text[], ${column('user_id')}::integer[],
      ${pgArray(given)}::text[], ${pgArray(given.map((n) => (n === null ? null : foldCase(n))))}::text[],
      ${column('application_id')}::integer[], ${column('session_id')}::uuid[], ${column('client_ip')}::text[],
      ${column('user_string')}::text[], ${column('protocol')}::text[], ${column('path')}::text[],
      ${column('previous_path')}::text[], ${column('size')}::bigint[], ${column('sha256')}::text[],
      ${column('reason')}::text[], ${column('target')}::text[], ${column('detail')}::text[])
      AS r(global_position, at, event_type, operation, outcome, user_id, user_name, user_name_folded,
        application_id, session_id, client_ip, user_string, protocol, path, previous_path, size, sha256,
        reason, target, detail)
    CROSS JOIN (
      SELECT (SELECT at FROM audit_events ORDER BY global_position DESC LIMIT 1) AS at,
        set_config('synchronous_commit', 'off', true) AS async_commit
    ) AS previous
    LEFT JOIN (
      SELECT DISTINCT ON (user_id) user_id, user_name, name_folded FROM audit_names
      WHERE user_id = ANY(${pgArray(unnamed)}::integer[]) AND user_id > 0
      ORDER BY user_id, name_folded
    ) AS n ON r.user_name IS NULL AND n.user_id = r.user_id`;
  return async (trx) => {
    if (insertNames.length > 0) {
      await trx
        .insertInto('audit_names')
        .values(insertNames)
        .onConflict((oc) => oc.columns(['name_folded', 'user_id']).doNothing())
        .execute();
    }
    await insertRows.execute(trx);
  };
}

export const auditProjection: DomainProjection = {
  name: 'audit',
  handles: auditedEventTypes,
  tables: ['audit_events', 'audit_names'],
  prepare,
  apply: (trx, events) => prepare(events)(trx),
};
