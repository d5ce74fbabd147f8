/**
 * The read model's tables as Kysely sees them. Projections own these tables: only a
 * projection's `apply` (through the runner) writes them; queries only read them.
 *
 * `bigint` columns arrive from pg as strings (they may exceed 2^53); convert with `Number()`
 * where a position is known to be safe.
 */
import type { ColumnType } from 'kysely';

type Bigint = ColumnType<string, number | string, number | string>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface ProjectionCheckpointsTable {
  /** The projection's name. */
  name: string;
  /** Global position of the last event the projection's rows include (0: none). */
  position: Bigint;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

/** One row per Sluice process lifetime (projection `server_instances`). */
export interface ServerInstancesTable {
  instance_id: string;
  hostname: string;
  pid: number;
  version: string;
  event_store: string;
  started_at: Timestamp;
  /** Global position of the ServerStarted event. */
  started_position: Bigint;
  stopped_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  stop_reason: ColumnType<string | null, string | null | undefined, string | null>;
}

type Nullable<T> = ColumnType<T | null, T | null | undefined, T | null>;

/** One row per user, deleted ones kept with `deleted_at` (projection `users`). */
export interface UsersTable {
  user_id: number;
  user_name: string;
  user_name_folded: string;
  email_address: string;
  email_folded: string;
  first_name: string;
  last_name: string;
  enabled: boolean;
  rights: string[];
  home_folder: string;
  ssh_key_count: ColumnType<number, number | undefined, number>;
  /** 'admin:<userId>', 'ticket:<applicationId>' or 'bootstrap'. */
  created_by: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  deleted_at: Nullable<Date | string>;
}

/** Integrators' registered applications (projection `applications`). */
export interface ApplicationsTable {
  application_id: number;
  name: string;
  description: string;
  enabled: boolean;
  registered_by: number;
  registered_at: Timestamp;
}

/** One row per session (projection `sessions`). */
export interface SessionsTable {
  session_id: string;
  user_id: number;
  application_id: number;
  kind: string;
  method: string;
  client_version: string | null;
  client_ip: string;
  caller_ip: string;
  user_string: string | null;
  impersonator_user_id: number | null;
  impersonator_session_id: string | null;
  opened_at: Timestamp;
  opened_position: Bigint;
  expires_at: Nullable<Date | string>;
  ended_at: Nullable<Date | string>;
  /** 'closed', 'superseded', 'replaced' or 'expired'. */
  end_reason: Nullable<string>;
  replaced_by: Nullable<string>;
}

export interface ReadModel {
  projection_checkpoints: ProjectionCheckpointsTable;
  server_instances: ServerInstancesTable;
  users: UsersTable;
  applications: ApplicationsTable;
  sessions: SessionsTable;
}
