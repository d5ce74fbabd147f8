/**
 * Secrets of flows and notifiers (an outside SFTP server's password or private key, a
 * webhook's signing secret): kept here, beside the password hashes, never in an event or a
 * view. One row per flow or notifier, written when it is defined.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE reaction_secrets (
      owner_id uuid PRIMARY KEY,
      secret jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE reaction_secrets`.execute(db);
}
