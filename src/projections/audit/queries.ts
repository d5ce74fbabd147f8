/**
 * Queries of the audit view, keyset-paged by global position (ascending or descending).
 *
 * Rows are written in global-position order by one projection and never updated, so a page
 * boundary (the last position seen) stays valid while rows are added: ascending pages never
 * skip or repeat a row, and descending pages never repeat one (new rows appear above the first
 * page). An `untilPosition` bound answers as the log stood at that position.
 *
 * Each one-valued filter is an equality on a column indexed together with the position, so
 * PostgreSQL walks one index range in order and stops after `limit` rows. Several values of a
 * filter (operations, or the user names a prefix matches) become one such range scan per value
 * under a UNION ALL that PostgreSQL merges in position order (Merge Append), again stopping
 * after `limit` rows.
 */
import { type Kysely, type RawBuilder, type Selectable, sql } from 'kysely';
import { likePrefix } from '../../adapters/readmodel/like-prefix.js';
import type { AuditEventsTable, ReadModel } from '../../adapters/readmodel/schema.js';
import { foldCase } from '../../domain/users/reservation.js';
import type { AuditOperation, AuditOutcome } from './rows.js';

/** A filter that would match too much to answer quickly (a user-name prefix of too many names). */
export class FilterTooBroad extends Error {
  override readonly name = 'FilterTooBroad';
}

/** A user-name prefix may match at most this many names (one index scan each). */
export const MAX_NAME_MATCHES = 100;

export interface AuditFilters {
  readonly operations?: readonly AuditOperation[] | undefined;
  readonly userId?: number | undefined;
  /** Case-insensitive prefix of the user name (also names tried in failed sign-ins). */
  readonly userName?: string | undefined;
  readonly applicationId?: number | undefined;
  readonly sessionId?: string | undefined;
  readonly ip?: string | undefined;
  readonly userString?: string | undefined;
  readonly pathPrefix?: string | undefined;
  readonly outcome?: AuditOutcome | undefined;
  /** Recorded at or after. */
  readonly from?: Date | undefined;
  /** Recorded before. */
  readonly to?: Date | undefined;
  /** Recorded at or before (a timeline `asOf`). */
  readonly asOf?: Date | undefined;
  /** Only rows at or below this global position (the log as it stood then). */
  readonly untilPosition?: number | undefined;
}

export interface AuditPageRequest {
  /** Rows strictly after this position in `order` (the last one of the previous page). */
  readonly after?: number | undefined;
  readonly limit: number;
  readonly order: 'asc' | 'desc';
}

export interface AuditItem {
  readonly position: number;
  readonly at: string;
  readonly eventType: string;
  readonly operation: string;
  readonly outcome: string;
  readonly userId: number | null;
  readonly userName: string | null;
  readonly applicationId: number | null;
  readonly sessionId: string | null;
  readonly clientIp: string | null;
  readonly userString: string | null;
  readonly protocol: string | null;
  readonly path: string | null;
  readonly previousPath: string | null;
  readonly size: number | null;
  readonly sha256: string | null;
  readonly reason: string | null;
  readonly target: string | null;
  /** Further facts of the event, as JSON text (parsed by the JSON answers). */
  readonly detail: string | null;
}

/** A row as the queries select it (every column but the folded name). */
type AuditRow = Omit<Selectable<AuditEventsTable>, 'user_name_folded'>;

const COLUMNS = sql.raw(
  'global_position, at, event_type, operation, outcome, user_id, user_name, application_id, session_id, ' +
    'client_ip, user_string, protocol, path, previous_path, size, sha256, reason, target, detail',
);

function toItem(r: AuditRow): AuditItem {
  return {
    position: Number(r.global_position),
    at: r.at.toISOString(),
    eventType: r.event_type,
    operation: r.operation,
    outcome: r.outcome,
    userId: r.user_id,
    userName: r.user_name,
    applicationId: r.application_id,
    sessionId: r.session_id,
    clientIp: r.client_ip,
    userString: r.user_string,
    protocol: r.protocol,
    path: r.path,
    previousPath: r.previous_path,
    size: r.size === null ? null : Number(r.size),
    sha256: r.sha256,
    reason: r.reason,
    target: r.target,
    detail: r.detail,
  };
}

/**
 * The users (by id) and the names tried in failed sign-ins that match no user whose folded
 * name starts with `prefix`.
 */
async function matchingNames(
  db: Kysely<ReadModel>,
  prefix: string,
): Promise<Array<{ name_folded: string; user_id: number }>> {
  const rows = await db
    .selectFrom('audit_names')
    .select(['name_folded', 'user_id'])
    .where('name_folded', 'like', likePrefix(foldCase(prefix)))
    .orderBy('name_folded')
    .orderBy('user_id')
    .limit(MAX_NAME_MATCHES + 1)
    .execute();
  if (rows.length > MAX_NAME_MATCHES) {
    throw new FilterTooBroad(
      `userName matches more than ${MAX_NAME_MATCHES} names; give a longer prefix or a userId`,
    );
  }
  return rows;
}

/**
 * A time window as positions. The view's `at` never decreases with the position, so the rows
 * recorded in [from, to) (and at or before asOf) are exactly those from the first row recorded
 * at or after `from` up to, not including, the first row recorded at or after `to` (after
 * `asOf`): binary searches over the primary key (`audit_position_from`, migration 0009). Null
 * when no row can match.
 */
async function positionsOfTimes(
  db: Kysely<ReadModel>,
  filters: AuditFilters,
): Promise<{ first?: number; before?: number } | null> {
  const from = (d: Date | undefined, inclusive: boolean) =>
    d === undefined
      ? sql`NULL::bigint`
      : sql`audit_position_from(${d.toISOString()}::timestamptz, ${inclusive})`;
  const result = await sql<{ first: string | null; to: string | null; as_of: string | null }>`
    SELECT ${from(filters.from, true)} AS first, ${from(filters.to, true)} AS to,
      ${from(filters.asOf, false)} AS as_of`.execute(db);
  const row = result.rows[0];
  if (!row) return null;
  // Nothing recorded at or after `from`.
  if (filters.from && row.first === null) return null;
  const ends = [row.to, row.as_of].filter((p): p is string => p !== null).map(Number);
  return {
    ...(row.first === null ? {} : { first: Number(row.first) }),
    ...(ends.length === 0 ? {} : { before: Math.min(...ends) }),
  };
}

/**
 * The query of one page (at most `limit` + 1 rows, to tell whether more follow) selecting
 * `COLUMNS`, or null when a user-name prefix matches nobody.
 */
async function pageQuery(
  db: Kysely<ReadModel>,
  filters: AuditFilters,
  page: AuditPageRequest,
): Promise<RawBuilder<unknown> | null> {
  const where: RawBuilder<unknown>[] = [];
  if (page.after !== undefined) {
    where.push(
      page.order === 'asc' ? sql`global_position > ${page.after}` : sql`global_position < ${page.after}`,
    );
  }
  if (filters.untilPosition !== undefined) where.push(sql`global_position <= ${filters.untilPosition}`);
  if (filters.userId !== undefined) where.push(sql`user_id = ${filters.userId}`);
  if (filters.applicationId !== undefined) where.push(sql`application_id = ${filters.applicationId}`);
  if (filters.sessionId !== undefined) where.push(sql`session_id = ${filters.sessionId}::uuid`);
  if (filters.ip !== undefined) where.push(sql`client_ip = ${filters.ip}`);
  if (filters.userString !== undefined) where.push(sql`user_string = ${filters.userString}`);
  if (filters.outcome !== undefined) where.push(sql`outcome = ${filters.outcome}`);
  if (filters.pathPrefix !== undefined) where.push(sql`path LIKE ${likePrefix(filters.pathPrefix)}`);
  if (filters.from !== undefined || filters.to !== undefined || filters.asOf !== undefined) {
    const bounds = await positionsOfTimes(db, filters);
    if (bounds === null) return null;
    if (bounds.first !== undefined) where.push(sql`global_position >= ${bounds.first}`);
    if (bounds.before !== undefined) where.push(sql`global_position < ${bounds.before}`);
  }

  // The filter whose values become separate index scans, merged in position order.
  let branches: RawBuilder<unknown>[] = [];
  const operations = filters.operations ?? [];
  if (filters.userName !== undefined) {
    const names = await matchingNames(db, filters.userName);
    if (names.length === 0) return null;
    branches = names.map((n) =>
      n.user_id > 0
        ? sql`user_id = ${n.user_id}`
        : sql`user_id IS NULL AND user_name_folded = ${n.name_folded}`,
    );
    if (operations.length === 1) where.push(sql`operation = ${operations[0]}`);
    else if (operations.length > 1) where.push(sql`operation = ANY(${[...operations]}::text[])`);
  } else if (operations.length === 1) {
    where.push(sql`operation = ${operations[0]}`);
  } else if (operations.length > 1) {
    branches = [...new Set(operations)].map((o) => sql`operation = ${o}`);
  }

  const direction = sql.raw(page.order === 'asc' ? 'ASC' : 'DESC');
  const limit = page.limit + 1;
  const conditions = (extra?: RawBuilder<unknown>) => {
    const all = extra ? [...where, extra] : where;
    return all.length === 0 ? sql`TRUE` : sql.join(all, sql` AND `);
  };
  if (branches.length === 0) {
    return sql`SELECT ${COLUMNS} FROM audit_events WHERE ${conditions()}
      ORDER BY global_position ${direction} LIMIT ${limit}`;
  }
  return sql`SELECT * FROM (${sql.join(
    branches.map(
      (b) => sql`(SELECT ${COLUMNS} FROM audit_events WHERE ${conditions(b)}
        ORDER BY global_position ${direction} LIMIT ${limit})`,
    ),
    sql` UNION ALL `,
  )}) AS merged
    ORDER BY global_position ${direction} LIMIT ${limit}`;
}

/**
 * One page of audit rows (at most `limit` + 1, to tell whether more follow). Empty when a
 * user-name prefix matches nobody.
 */
export async function queryAudit(
  db: Kysely<ReadModel>,
  filters: AuditFilters,
  page: AuditPageRequest,
): Promise<AuditItem[]> {
  const query = await pageQuery(db, filters, page);
  if (query === null) return [];
  const result = await sql<AuditRow>`${query}`.execute(db);
  return result.rows.map(toItem);
}

/**
 * An RFC 4180 field: quoted (quotes doubled) when it holds a comma, a quote, CR or LF; NULL is
 * empty. Columns of fixed vocabularies, numbers, UUIDs and hex digests never need quoting.
 */
const csvQuoted = (column: string) =>
  `coalesce(CASE WHEN strpos(${column}, ',') + strpos(${column}, '"') + strpos(${column}, E'\\n') + strpos(${column}, E'\\r') > 0 THEN '"' || replace(${column}, '"', '""') || '"' ELSE ${column} END, '')`;
/**
 * Spreadsheet-safe (OWASP CSV injection): a value starting with = + - @, a tab or CR gets a
 * leading single quote, so a spreadsheet shows it as text instead of running it as a formula.
 */
const neutralised = (column: string) =>
  `(CASE WHEN left(${column}, 1) IN ('=', '+', '-', '@', E'\\t', E'\\r') THEN '''' || ${column} ELSE ${column} END)`;
const csvText = (column: string, spreadsheetSafe: boolean) =>
  csvQuoted(spreadsheetSafe ? neutralised(column) : column);
const csvPlain = (expression: string) => `coalesce(${expression}, '')`;

/** The CSV fields after position and time, built by PostgreSQL in `CSV_COLUMNS` order. */
const csvRest = (safe: boolean) =>
  [
    'event_type',
    'operation',
    'outcome',
    csvPlain('user_id::text'),
    csvText('user_name', safe),
    csvPlain('application_id::text'),
    csvPlain('session_id::text'),
    csvText('client_ip', safe),
    csvText('user_string', safe),
    csvPlain('protocol'),
    csvText('path', safe),
    csvText('previous_path', safe),
    csvPlain('size::text'),
    csvPlain('sha256'),
    csvText('reason', safe),
    csvText('target', safe),
    csvText('detail', safe),
  ].join(" || ',' || ");
const CSV_REST = sql.raw(csvRest(false));
const CSV_REST_SPREADSHEET_SAFE = sql.raw(csvRest(true));

/** A JSON string of free text (escaped by PostgreSQL), or null. */
const jsonText = (column: string) => `coalesce(to_json(${column})::text, 'null')`;
/** A JSON string of a column that holds no quote, backslash or control character, or null. */
const jsonSafe = (column: string) => `coalesce('"' || ${column} || '"', 'null')`;
const jsonNumber = (column: string) => `coalesce(${column}::text, 'null')`;

/** The NDJSON members after position and time, built by PostgreSQL in the list's order. */
const NDJSON_REST = sql.raw(
  [
    ['eventType', jsonSafe('event_type')],
    ['operation', jsonSafe('operation')],
    ['outcome', jsonSafe('outcome')],
    ['userId', jsonNumber('user_id')],
    ['userName', jsonText('user_name')],
    ['applicationId', jsonNumber('application_id')],
    ['sessionId', jsonSafe('session_id::text')],
    ['clientIp', jsonText('client_ip')],
    ['userString', jsonText('user_string')],
    ['protocol', jsonSafe('protocol')],
    ['path', jsonText('path')],
    ['previousPath', jsonText('previous_path')],
    ['size', jsonNumber('size')],
    ['sha256', jsonSafe('sha256')],
    ['reason', jsonText('reason')],
    ['target', jsonText('target')],
    ['detail', "coalesce(detail, 'null')"],
  ]
    .map(([key, expression]) => `',"${key}":' || ${expression}`)
    .join(' || '),
);

/**
 * One page of export lines (CSV or NDJSON, line ends included) with their positions for the
 * next page's keyset. PostgreSQL escapes and joins the fields; the time is written here, as
 * the JSON answers write it (toISOString).
 */
export async function exportLines(
  db: Kysely<ReadModel>,
  filters: AuditFilters,
  page: AuditPageRequest,
  format: 'csv' | 'ndjson',
  options: { spreadsheetSafe?: boolean } = {},
): Promise<Array<{ position: number; line: string }>> {
  const query = await pageQuery(db, filters, page);
  if (query === null) return [];
  const direction = sql.raw(page.order === 'asc' ? 'ASC' : 'DESC');
  const result = await sql<{ global_position: string; ms: string; rest: string }>`
    SELECT global_position, floor(extract(epoch FROM at) * 1000)::bigint AS ms,
      ${format === 'ndjson' ? NDJSON_REST : options.spreadsheetSafe ? CSV_REST_SPREADSHEET_SAFE : CSV_REST} AS rest
    FROM (${query}) AS page ORDER BY global_position ${direction}`.execute(db);
  return result.rows.map((r) => {
    const at = new Date(Number(r.ms)).toISOString();
    return {
      position: Number(r.global_position),
      line:
        format === 'csv'
          ? `${r.global_position},${at},${r.rest}\r\n`
          : `{"position":${r.global_position},"at":"${at}"${r.rest}}\n`,
    };
  });
}

/** The audit view's checkpoint: every row at or below it is visible. */
export async function auditCheckpoint(db: Kysely<ReadModel>): Promise<number> {
  const row = await db
    .selectFrom('projection_checkpoints')
    .select('position')
    .where('name', '=', 'audit')
    .executeTakeFirst();
  return Number(row?.position ?? 0);
}

/**
 * Whether the audit view recorded, between two positions, the end of a session (closed,
 * expired, replaced) or the disabling or deletion of its user: what ends a live stream at once.
 */
export async function sessionEndedBetween(
  db: Kysely<ReadModel>,
  session: { readonly sessionId: string; readonly userId: number },
  after: number,
  until: number,
): Promise<boolean> {
  const row = await db
    .selectFrom('audit_events')
    .select('global_position')
    .where('global_position', '>', String(after))
    .where('global_position', '<=', String(until))
    .where((eb) =>
      eb.or([
        eb.and([
          eb('session_id', '=', session.sessionId),
          eb('operation', 'in', ['session.close', 'session.expire', 'session.replace']),
        ]),
        eb.and([
          // A change of rights or password may end the caller's right to read on.
          eb('operation', 'in', ['user.disable', 'user.delete', 'user.update', 'user.password']),
          eb('target', '=', `user:${session.userId}`),
        ]),
      ]),
    )
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}
