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

export interface ReadModel {
  projection_checkpoints: ProjectionCheckpointsTable;
  server_instances: ServerInstancesTable;
}
