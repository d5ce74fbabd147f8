/**
 * The sign-in defender's counters: per source address and per user name, failures in the
 * current window, the ban (how many so far, until when), and refusals during the ban not yet
 * summarized into an event. Shared by every instance; not events, so a flood cannot grow the log.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE signin_defender (
      scope text NOT NULL CHECK (scope IN ('address', 'user')),
      key text NOT NULL,
      failures integer NOT NULL,
      window_start timestamptz NOT NULL,
      ban_number integer NOT NULL DEFAULT 0,
      banned_until timestamptz,
      refused integer NOT NULL DEFAULT 0,
      refused_from timestamptz,
      refused_to timestamptz,
      PRIMARY KEY (scope, key)
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE signin_defender`.execute(db);
}
