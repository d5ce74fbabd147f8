/** The `users` and `applications` views (projections in src/projections/users-view.ts and applications-view.ts). */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE users (
      user_id integer PRIMARY KEY,
      user_name text NOT NULL,
      user_name_folded text NOT NULL,
      email_address text NOT NULL,
      email_folded text NOT NULL,
      first_name text NOT NULL,
      last_name text NOT NULL,
      enabled boolean NOT NULL,
      rights text[] NOT NULL,
      home_folder text NOT NULL,
      ssh_key_count integer NOT NULL DEFAULT 0,
      created_by text NOT NULL,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      deleted_at timestamptz
    )`.execute(db);
  // Prefix filters on folded names; text_pattern_ops makes LIKE 'x%' use the index.
  await sql`CREATE INDEX users_by_name ON users (user_name_folded text_pattern_ops)`.execute(db);
  await sql`CREATE INDEX users_by_email ON users (email_folded text_pattern_ops)`.execute(db);
  await sql`
    CREATE TABLE applications (
      application_id integer PRIMARY KEY,
      name text NOT NULL,
      description text NOT NULL,
      enabled boolean NOT NULL,
      registered_by integer NOT NULL,
      registered_at timestamptz NOT NULL
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE applications`.execute(db);
  await sql`DROP TABLE users`.execute(db);
}
