/**
 * The audit view's time and operation indexes, reworked:
 *
 * - `at` now never decreases with the position (src/projections/audit/rows.ts raises it to the
 *   previous row's), so a time window is one range of positions. A btree on (at, position)
 *   turns the window's ends into position bounds with two lookups; every (column, position)
 *   index then scans just that range. (The BRIN index could narrow a window, but a page of the
 *   newest rows in a window then read the whole window and sorted it.)
 * - Uploads and downloads, most of an MFT log, leave the operation index: the primary key finds
 *   them in order; the index keeps only the rarer operations, and each upload costs one index
 *   insertion less.
 *
 * Rows written before this migration may have an `at` below an earlier row's: the audit view is
 * emptied and its checkpoint reset, so the runner replays it from position 0 on the next start.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX audit_events_by_at`.execute(db);
  await sql`DROP INDEX audit_events_by_operation`.execute(db);
  await sql`TRUNCATE audit_events, audit_names`.execute(db);
  await sql`UPDATE projection_checkpoints SET position = 0, updated_at = now() WHERE name = 'audit'`.execute(
    db,
  );
  await sql`CREATE INDEX audit_events_by_at ON audit_events (at, global_position)`.execute(db);
  await sql`
    CREATE INDEX audit_events_by_operation ON audit_events (operation, global_position)
    WHERE operation NOT IN ('file.upload', 'file.download')`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX audit_events_by_at`.execute(db);
  await sql`DROP INDEX audit_events_by_operation`.execute(db);
  await sql`CREATE INDEX audit_events_by_at ON audit_events USING brin (at)`.execute(db);
  await sql`CREATE INDEX audit_events_by_operation ON audit_events (operation, global_position)`.execute(db);
}
