/**
 * Password hashes live here, outside the event log: events name only a credential version.
 * Rows are never updated; a new password is a new version.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE user_credentials (
      user_id integer NOT NULL,
      version integer NOT NULL,
      hash text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (user_id, version)
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE user_credentials`.execute(db);
}
