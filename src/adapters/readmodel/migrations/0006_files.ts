/** The `files` view (src/projections/files-view.ts): the current files, per user and path. */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE files (
      user_id integer NOT NULL,
      path text NOT NULL,
      size bigint NOT NULL,
      sha256 text NOT NULL,
      last_writer_user_id integer NOT NULL,
      last_session_id uuid,
      last_application_id integer,
      last_protocol text NOT NULL,
      updated_at timestamptz NOT NULL,
      updated_position bigint NOT NULL,
      CONSTRAINT files_pkey PRIMARY KEY (user_id, path)
    )`.execute(db);
  // Folder listings and renames of a folder's contents: prefix scans per user.
  await sql`CREATE INDEX files_by_path_prefix ON files (user_id, path text_pattern_ops)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE files`.execute(db);
}
