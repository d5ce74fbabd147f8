/**
 * The audit view (src/projections/audit/rows.ts) and the extended sessions view
 * (src/projections/sessions-view.ts): connections, transfers and bytes per session.
 *
 * Indexes follow the query API's filters. Every list is keyset-paged by global position, so
 * each filter on one column has a `(column, global_position)` index: equality on the column,
 * then the position range and order come from the same index scan (ascending or backwards),
 * never a sort of every matching row. Several values of one filter (operations, user names)
 * become one index scan per value, merged in position order (Merge Append).
 *
 * The sessions view gained counters it had not kept, so its rows are dropped and its
 * checkpoint reset: the runner replays it from position 0 on the next start.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE audit_events (
      global_position bigint PRIMARY KEY,
      at timestamptz NOT NULL,
      event_type text NOT NULL,
      operation text NOT NULL,
      outcome text NOT NULL,
      user_id integer,
      user_name text,
      user_name_folded text,
      application_id integer,
      session_id uuid,
      client_ip text,
      user_string text,
      protocol text,
      path text,
      previous_path text,
      size bigint,
      sha256 text,
      reason text,
      target text,
      detail text
    )`.execute(db);
  const index = (name: string, definition: string) =>
    sql`CREATE INDEX ${sql.id(name)} ON audit_events ${sql.raw(definition)}`.execute(db);
  await index('audit_events_by_user', '(user_id, global_position) WHERE user_id IS NOT NULL');
  // Names tried in failed sign-ins that match no user (known users are found by id).
  await index(
    'audit_events_by_unknown_name',
    '(user_name_folded, global_position) WHERE user_id IS NULL AND user_name_folded IS NOT NULL',
  );
  await index('audit_events_by_session', '(session_id, global_position) WHERE session_id IS NOT NULL');
  await index(
    'audit_events_by_application',
    '(application_id, global_position) WHERE application_id IS NOT NULL',
  );
  await index('audit_events_by_operation', '(operation, global_position)');
  await index('audit_events_by_client_ip', '(client_ip, global_position) WHERE client_ip IS NOT NULL');
  await index('audit_events_by_user_string', '(user_string, global_position) WHERE user_string IS NOT NULL');
  // Failures, denials and aborts are rare: a partial index finds them without scanning successes.
  await index('audit_events_by_outcome', "(outcome, global_position) WHERE outcome <> 'success'");
  // Path prefixes (LIKE 'x%') whatever the database's collation.
  await index('audit_events_by_path', '(path text_pattern_ops) WHERE path IS NOT NULL');
  // Time ranges: rows arrive in time order, so a BRIN index (block ranges, almost free to
  // maintain) narrows a window to its blocks; the window's rows are then sorted by position.
  await index('audit_events_by_at', 'USING brin (at)');

  // The names the audit view has seen: users (user id > 0) and names tried in failed sign-ins
  // that match no user (user id 0). User-name search resolves a prefix here first, then scans
  // one index range per user id (or per unknown name).
  await sql`
    CREATE TABLE audit_names (
      name_folded text NOT NULL,
      user_id integer NOT NULL,
      user_name text NOT NULL,
      PRIMARY KEY (name_folded, user_id)
    )`.execute(db);
  await sql`CREATE INDEX audit_names_by_prefix ON audit_names (name_folded text_pattern_ops)`.execute(db);
  await sql`CREATE INDEX audit_names_by_user ON audit_names (user_id) WHERE user_id > 0`.execute(db);

  await sql`
    ALTER TABLE sessions
      ADD COLUMN connections integer NOT NULL DEFAULT 0,
      ADD COLUMN uploads integer NOT NULL DEFAULT 0,
      ADD COLUMN downloads integer NOT NULL DEFAULT 0,
      ADD COLUMN deletes integer NOT NULL DEFAULT 0,
      ADD COLUMN bytes_in bigint NOT NULL DEFAULT 0,
      ADD COLUMN bytes_out bigint NOT NULL DEFAULT 0,
      ADD COLUMN last_activity_at timestamptz`.execute(db);
  await sql`CREATE UNIQUE INDEX sessions_by_position ON sessions (opened_position)`.execute(db);
  await sql`CREATE INDEX sessions_by_user_position ON sessions (user_id, opened_position)`.execute(db);
  await sql`CREATE INDEX sessions_by_application ON sessions (application_id, opened_position)`.execute(db);
  await sql`CREATE INDEX sessions_by_client_ip ON sessions (client_ip, opened_position)`.execute(db);
  await sql`CREATE INDEX sessions_by_user_string ON sessions (user_string, opened_position) WHERE user_string IS NOT NULL`.execute(
    db,
  );
  await sql`CREATE INDEX sessions_open ON sessions (opened_position) WHERE ended_at IS NULL`.execute(db);
  await sql`CREATE INDEX sessions_by_opened_at ON sessions (opened_at)`.execute(db);
  await sql`DELETE FROM sessions`.execute(db);
  await sql`UPDATE projection_checkpoints SET position = 0, updated_at = now() WHERE name = 'sessions'`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const name of [
    'sessions_by_position',
    'sessions_by_user_position',
    'sessions_by_application',
    'sessions_by_client_ip',
    'sessions_by_user_string',
    'sessions_open',
    'sessions_by_opened_at',
  ]) {
    await sql`DROP INDEX ${sql.id(name)}`.execute(db);
  }
  await sql`
    ALTER TABLE sessions
      DROP COLUMN connections, DROP COLUMN uploads, DROP COLUMN downloads, DROP COLUMN deletes,
      DROP COLUMN bytes_in, DROP COLUMN bytes_out, DROP COLUMN last_activity_at`.execute(db);
  await sql`DROP TABLE audit_names`.execute(db);
  await sql`DROP TABLE audit_events`.execute(db);
}
