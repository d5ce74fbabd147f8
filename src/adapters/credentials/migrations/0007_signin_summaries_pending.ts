/**
 * The sign-in defender's summaries, recorded before their counts are let go: refusals taken
 * for a summary wait in `pending` (numbered by `summary_number`, which also names the
 * summary's stream) until its event is durable, so a failed append or a crash loses no count
 * and a retry cannot record it twice.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE signin_defender
      ADD COLUMN summary_number integer NOT NULL DEFAULT 0,
      ADD COLUMN pending integer NOT NULL DEFAULT 0,
      ADD COLUMN pending_from timestamptz,
      ADD COLUMN pending_to timestamptz`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE signin_defender
      DROP COLUMN summary_number, DROP COLUMN pending, DROP COLUMN pending_from, DROP COLUMN pending_to`.execute(
    db,
  );
}
