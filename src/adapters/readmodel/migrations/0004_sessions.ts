/** The `sessions` view (src/projections/sessions-view.ts): one row per session. */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE sessions (
      session_id uuid PRIMARY KEY,
      user_id integer NOT NULL,
      application_id integer NOT NULL,
      kind text NOT NULL,
      method text NOT NULL,
      client_version text,
      client_ip text NOT NULL,
      caller_ip text NOT NULL,
      user_string text,
      impersonator_user_id integer,
      impersonator_session_id uuid,
      opened_at timestamptz NOT NULL,
      opened_position bigint NOT NULL,
      expires_at timestamptz,
      ended_at timestamptz,
      end_reason text,
      replaced_by uuid
    )`.execute(db);
  await sql`CREATE INDEX sessions_by_user ON sessions (user_id, opened_at DESC)`.execute(db);
  // The expiry scheduler's question: which immutable sessions are due and still open?
  await sql`CREATE INDEX sessions_due_to_expire ON sessions (expires_at) WHERE ended_at IS NULL AND expires_at IS NOT NULL`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE sessions`.execute(db);
}
