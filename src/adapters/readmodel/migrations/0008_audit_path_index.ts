/**
 * The audit view's path index carries the position too, so a path prefix within a position
 * range (a time window, a cursor, untilPosition) is checked in the index, without reading every
 * row under the prefix from the table.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX audit_events_by_path`.execute(db);
  await sql`
    CREATE INDEX audit_events_by_path ON audit_events (path text_pattern_ops, global_position)
    WHERE path IS NOT NULL`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX audit_events_by_path`.execute(db);
  await sql`CREATE INDEX audit_events_by_path ON audit_events (path text_pattern_ops) WHERE path IS NOT NULL`.execute(
    db,
  );
}
