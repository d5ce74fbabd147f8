/**
 * The sign-in defender's budget of SignInFailed events: one row per budgeted reason (scope
 * `failures`, key the reason) counts the failures recorded in the current minute (`failures`,
 * `window_start`) and, past the budget, those left to its summary (`refused`, pending as for bans).
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE signin_defender DROP CONSTRAINT signin_defender_scope_check`.execute(db);
  await sql`
    ALTER TABLE signin_defender ADD CONSTRAINT signin_defender_scope_check
      CHECK (scope IN ('address', 'user', 'failures'))`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DELETE FROM signin_defender WHERE scope = 'failures'`.execute(db);
  await sql`ALTER TABLE signin_defender DROP CONSTRAINT signin_defender_scope_check`.execute(db);
  await sql`
    ALTER TABLE signin_defender ADD CONSTRAINT signin_defender_scope_check
      CHECK (scope IN ('address', 'user'))`.execute(db);
}
