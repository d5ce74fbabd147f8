/** The `server_instances` projection's table: one row per Sluice process lifetime. */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE server_instances (
      instance_id uuid PRIMARY KEY,
      hostname text NOT NULL,
      pid integer NOT NULL,
      version text NOT NULL,
      event_store text NOT NULL,
      started_at timestamptz NOT NULL,
      started_position bigint NOT NULL,
      stopped_at timestamptz,
      stop_reason text
    )`.execute(db);
  await sql`CREATE INDEX server_instances_by_started_at ON server_instances (started_at DESC, instance_id)`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE server_instances`.execute(db);
}
