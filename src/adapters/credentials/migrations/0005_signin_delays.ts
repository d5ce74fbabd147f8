/**
 * The sign-in defender's delays: until when the last failure of a key holds the next attempt
 * from its address (not an event either: a delay is no fact worth keeping).
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE signin_defender ADD COLUMN held_until timestamptz`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE signin_defender DROP COLUMN held_until`.execute(db);
}
