import type { Migration } from 'kysely';
import * as m0001 from './0001_projection_checkpoints.js';
import * as m0002 from './0002_server_instances.js';
import * as m0003 from './0003_users_and_applications.js';
import * as m0004 from './0004_sessions.js';
import * as m0005 from './0005_audit_and_session_views.js';
import * as m0006 from './0006_files.js';
import * as m0007 from './0007_audit_time_and_operation_indexes.js';
import * as m0008 from './0008_audit_path_index.js';
import * as m0009 from './0009_audit_time_search.js';
import * as m0010 from './0010_user_storage_limits.js';
import * as m0011 from './0011_merkle_tree.js';
import * as m0012 from './0012_flows_and_deliveries.js';

/**
 * The read model's migrations, applied in key order with
 * `migrate(db, { name: 'readmodel', migrations: readModelMigrations })`. Append new files;
 * never edit applied ones.
 *
 * A projection's tables are replaced wholesale by a rebuild (see src/projections/rebuild.ts):
 * indexes and constraints keep their names, but foreign keys, triggers, grants and serial
 * sequences are not carried over, so projection tables must not rely on them.
 */
export const readModelMigrations: Record<string, Migration> = {
  '0001_projection_checkpoints': m0001,
  '0002_server_instances': m0002,
  '0003_users_and_applications': m0003,
  '0004_sessions': m0004,
  '0005_audit_and_session_views': m0005,
  '0006_files': m0006,
  '0007_audit_time_and_operation_indexes': m0007,
  '0008_audit_path_index': m0008,
  '0009_audit_time_search': m0009,
  '0010_user_storage_limits': m0010,
  '0011_merkle_tree': m0011,
  '0012_flows_and_deliveries': m0012,
};
