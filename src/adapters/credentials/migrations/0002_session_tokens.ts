/**
 * Session bearer tokens, outside the event log like passwords: only the SHA-256 of each token,
 * and the public session id it acts for. (0004 adds when each was last used.)
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE session_tokens (
      token_hash bytea PRIMARY KEY,
      session_id uuid NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE session_tokens`.execute(db);
}
