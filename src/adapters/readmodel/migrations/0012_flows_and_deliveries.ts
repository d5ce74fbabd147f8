/**
 * The flows, notifiers and deliveries views (src/projections/flows-view.ts,
 * notifiers-view.ts, deliveries-view.ts; docs/flows.md).
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE flows (
      flow_id uuid NOT NULL,
      name text NOT NULL,
      source_user_id integer NOT NULL,
      source_folder text NOT NULL,
      definition jsonb NOT NULL,
      defined_at timestamptz NOT NULL,
      defined_position bigint NOT NULL,
      removed_at timestamptz,
      CONSTRAINT flows_pkey PRIMARY KEY (flow_id)
    )`.execute(db);
  await sql`CREATE INDEX flows_by_source_user ON flows (source_user_id) WHERE removed_at IS NULL`.execute(db);
  // Files a flow holds back until a trigger file releases them.
  await sql`
    CREATE TABLE flow_waiting_files (
      flow_id uuid NOT NULL,
      path text NOT NULL,
      user_id integer NOT NULL,
      size bigint NOT NULL,
      sha256 text NOT NULL,
      uploaded_position bigint NOT NULL,
      CONSTRAINT flow_waiting_files_pkey PRIMARY KEY (flow_id, path)
    )`.execute(db);
  // Whether uploads are scanned before flows take them, as the last ServerStarted said.
  await sql`
    CREATE TABLE flow_scan_setting (
      id integer NOT NULL,
      scanning boolean NOT NULL,
      since_position bigint NOT NULL,
      CONSTRAINT flow_scan_setting_pkey PRIMARY KEY (id)
    )`.execute(db);
  await sql`
    CREATE TABLE notifiers (
      notifier_id uuid NOT NULL,
      name text NOT NULL,
      filter jsonb NOT NULL,
      channel jsonb NOT NULL,
      defined_at timestamptz NOT NULL,
      defined_position bigint NOT NULL,
      removed_at timestamptz,
      CONSTRAINT notifiers_pkey PRIMARY KEY (notifier_id)
    )`.execute(db);
  await sql`
    CREATE TABLE deliveries (
      delivery_id uuid NOT NULL,
      kind text NOT NULL,
      owner_id text NOT NULL,
      state text NOT NULL,
      attempts integer NOT NULL,
      revision integer NOT NULL,
      due_at timestamptz,
      cause_position bigint NOT NULL,
      cause_type text NOT NULL,
      file jsonb,
      last_error text,
      result text,
      scheduled_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      updated_position bigint NOT NULL,
      CONSTRAINT deliveries_pkey PRIMARY KEY (delivery_id)
    )`.execute(db);
  // The worker's question: what is due now (scheduled, waiting, or an attempt past its lease).
  await sql`CREATE INDEX deliveries_due ON deliveries (due_at) WHERE due_at IS NOT NULL`.execute(db);
  await sql`CREATE INDEX deliveries_by_state ON deliveries (state, cause_position)`.execute(db);
  await sql`CREATE INDEX deliveries_by_owner ON deliveries (owner_id, cause_position)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE deliveries, notifiers, flow_scan_setting, flow_waiting_files, flows`.execute(db);
}
