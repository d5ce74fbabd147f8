/**
 * Connections held per user across instances: one lease row per live SSH connection, and one
 * row per running instance that it renews while alive. A connection's lease counts only while
 * its instance's lease holds, so the connections of an instance that died without stopping
 * stop counting once its lease runs out. Not events: a lease is no fact worth keeping (each
 * connection is recorded as ConnectionOpened/Closed).
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE instance_leases (
      instance_id text PRIMARY KEY,
      expires_at timestamptz NOT NULL
    )`.execute(db);
  await sql`
    CREATE TABLE connection_leases (
      connection_id text PRIMARY KEY,
      user_id integer NOT NULL,
      instance_id text NOT NULL,
      opened_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX connection_leases_by_user ON connection_leases (user_id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE connection_leases`.execute(db);
  await sql`DROP TABLE instance_leases`.execute(db);
}
