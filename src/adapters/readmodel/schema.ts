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
  /** The user's own limits (bigint, read back as text); null: the server's. */
  quota_bytes: ColumnType<string | null, number | null | undefined, number | null>;
  max_file_bytes: ColumnType<string | null, number | null | undefined, number | null>;
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
  /** Counters kept by the sessions projection from connection and file events. */
  connections: ColumnType<number, number | undefined, number>;
  uploads: ColumnType<number, number | undefined, number>;
  downloads: ColumnType<number, number | undefined, number>;
  deletes: ColumnType<number, number | undefined, number>;
  /** Bytes uploaded (sizes of completed uploads) and downloaded (bytes sent). */
  bytes_in: ColumnType<string, number | string | undefined, number | string>;
  bytes_out: ColumnType<string, number | string | undefined, number | string>;
  last_activity_at: Nullable<Date | string>;
}

/** One row per auditable event (projection `audit`); rows are never updated. */
export interface AuditEventsTable {
  global_position: Bigint;
  /** When the event was recorded (the log's time). */
  at: Timestamp;
  event_type: string;
  /** 'session.open', 'file.upload', … (see src/projections/audit/rows.ts). */
  operation: string;
  /** 'success', 'failure', 'denied', 'aborted' or 'started' (see src/projections/audit/rows.ts). */
  outcome: string;
  user_id: number | null;
  user_name: string | null;
  user_name_folded: string | null;
  application_id: number | null;
  session_id: string | null;
  client_ip: string | null;
  user_string: string | null;
  protocol: string | null;
  path: string | null;
  previous_path: string | null;
  size: ColumnType<string | null, number | string | null, number | string | null>;
  sha256: string | null;
  reason: string | null;
  /** What an admin change or a session replacement is about: 'user:42', 'session:<uuid>', … */
  target: string | null;
  /** Further facts of the event as compact JSON. */
  detail: string | null;
}

/** Names the audit view has seen (user id 0: a name tried in a failed sign-in). */
export interface AuditNamesTable {
  name_folded: string;
  user_id: number;
  user_name: string;
}

/** The current files: one row per user and path (projection `files`). */
export interface FilesTable {
  user_id: number;
  path: string;
  size: Bigint;
  sha256: string;
  last_writer_user_id: number;
  last_session_id: string | null;
  last_application_id: number | null;
  last_protocol: string;
  updated_at: Timestamp;
  updated_position: Bigint;
}

/** Each event's leaf hash, in log order (projection `merkle`). */
export interface MerkleLeavesTable {
  leaf_index: Bigint;
  global_position: Bigint;
  hash: Buffer;
}

/** Every complete subtree above the leaves: leaves [node_index·2^level, (node_index+1)·2^level). */
export interface MerkleNodesTable {
  level: number;
  node_index: Bigint;
  hash: Buffer;
}

/** One row: the tree's size, its last leaf's position, its frontier (largest subtree first). */
export interface MerkleFrontierTable {
  id: number;
  tree_size: Bigint;
  last_position: Bigint;
  hashes: Buffer[];
}

/** One row per flow, removed ones kept with `removed_at` (projection `flows`). */
export interface FlowsTable {
  flow_id: string;
  name: string;
  source_user_id: number;
  source_folder: string;
  /** The FlowDefined event's data. */
  definition: ColumnType<unknown, string, string>;
  defined_at: Timestamp;
  defined_position: Bigint;
  removed_at: Nullable<Date>;
}

/** Files held back until a trigger file releases them (projection `flows`). */
export interface FlowWaitingFilesTable {
  flow_id: string;
  path: string;
  user_id: number;
  size: Bigint;
  sha256: string;
  uploaded_position: Bigint;
}

/** One row (id 1): whether uploads are scanned before flows take them (projection `flows`). */
export interface FlowScanSettingTable {
  id: number;
  scanning: boolean;
  since_position: Bigint;
}

/** One row per notifier (projection `notifiers`). */
export interface NotifiersTable {
  notifier_id: string;
  name: string;
  filter: ColumnType<unknown, string, string>;
  channel: ColumnType<unknown, string, string>;
  defined_at: Timestamp;
  defined_position: Bigint;
  removed_at: Nullable<Date>;
}

/** One row per delivery, as its stream stands (projection `deliveries`). */
export interface DeliveriesTable {
  delivery_id: string;
  kind: string;
  owner_id: string;
  /** scheduled, attempting, waiting, succeeded or dead. */
  state: string;
  attempts: number;
  /** The stream's revision: a claim is appended there. */
  revision: number;
  /** When the worker should look at it next (null when finished). */
  due_at: ColumnType<Date | null, Date | string | null, Date | string | null>;
  cause_position: Bigint;
  cause_type: string;
  file: ColumnType<unknown, string | null, string | null>;
  last_error: Nullable<string>;
  result: Nullable<string>;
  scheduled_at: Timestamp;
  updated_at: Timestamp;
  updated_position: Bigint;
}

export interface ReadModel {
  flows: FlowsTable;
  flow_waiting_files: FlowWaitingFilesTable;
  flow_scan_setting: FlowScanSettingTable;
  notifiers: NotifiersTable;
  deliveries: DeliveriesTable;
  files: FilesTable;
  merkle_leaves: MerkleLeavesTable;
  merkle_nodes: MerkleNodesTable;
  merkle_frontier: MerkleFrontierTable;
  projection_checkpoints: ProjectionCheckpointsTable;
  server_instances: ServerInstancesTable;
  users: UsersTable;
  applications: ApplicationsTable;
  sessions: SessionsTable;
  audit_events: AuditEventsTable;
  audit_names: AuditNamesTable;
}
