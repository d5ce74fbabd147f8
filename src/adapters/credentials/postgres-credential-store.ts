/** The credential store on PostgreSQL: one row per (user, version), inserted once. */
import type { Generated, Kysely } from 'kysely';
import type { CredentialStore } from '../../application/ports.js';

export interface CredentialTables {
  user_credentials: { user_id: number; version: number; hash: string; created_at: Generated<Date> };
}

export class PostgresCredentialStore implements CredentialStore {
  constructor(private readonly db: Kysely<CredentialTables>) {}

  async put(userId: number, version: number, hash: string): Promise<void> {
    // A duplicate (user, version) fails: the caller takes the next version.
    await this.db.insertInto('user_credentials').values({ user_id: userId, version, hash }).execute();
  }

  async get(userId: number, version: number): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('user_credentials')
      .select('hash')
      .where('user_id', '=', userId)
      .where('version', '=', version)
      .executeTakeFirst();
    return row?.hash;
  }

  async latestVersion(userId: number): Promise<number> {
    const row = await this.db
      .selectFrom('user_credentials')
      .select((eb) => eb.fn.max('version').as('version'))
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return Number(row?.version ?? 0);
  }
}
