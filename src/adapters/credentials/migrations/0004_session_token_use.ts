/**
 * When each token was last used, for the idle timeout of replaceable sessions
 * (MFT_SESSION_IDLE_SECONDS). `idle_at` is when the session goes idle unless used again; it is
 * cleared once the session's end is recorded, so the sweep only ever reads live candidates.
 * Tokens issued before this migration have no idle timeout.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE session_tokens
      ADD COLUMN last_used_at timestamptz,
      ADD COLUMN idle_timeout_ms integer,
      ADD COLUMN idle_at timestamptz`.execute(db);
  await sql`CREATE INDEX session_tokens_idle_at ON session_tokens (idle_at) WHERE idle_at IS NOT NULL`.execute(
    db,
  );
  await sql`CREATE INDEX session_tokens_session_id ON session_tokens (session_id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX session_tokens_session_id`.execute(db);
  await sql`DROP INDEX session_tokens_idle_at`.execute(db);
  await sql`
    ALTER TABLE session_tokens DROP COLUMN idle_at, DROP COLUMN idle_timeout_ms, DROP COLUMN last_used_at`.execute(
    db,
  );
}
