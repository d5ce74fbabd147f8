/** The users view carries each user's own storage limits (null: the server's). */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE users ADD COLUMN quota_bytes bigint, ADD COLUMN max_file_bytes bigint`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE users DROP COLUMN quota_bytes, DROP COLUMN max_file_bytes`.execute(db);
}
