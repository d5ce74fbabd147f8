/** Secrets of flows and notifiers on PostgreSQL (credential migration 0009). */
import type { Generated, Kysely } from 'kysely';
import type { ReactionSecrets } from '../../application/ports.js';

export interface ReactionSecretTables {
  reaction_secrets: { owner_id: string; secret: unknown; created_at: Generated<Date> };
}

export class PostgresReactionSecrets implements ReactionSecrets {
  constructor(private readonly db: Kysely<ReactionSecretTables>) {}

  async put(ownerId: string, secret: Readonly<Record<string, string>>): Promise<void> {
    await this.db
      .insertInto('reaction_secrets')
      .values({ owner_id: ownerId, secret: JSON.stringify(secret) })
      .execute();
  }

  async get(ownerId: string): Promise<Readonly<Record<string, string>> | undefined> {
    const row = await this.db
      .selectFrom('reaction_secrets')
      .select('secret')
      .where('owner_id', '=', ownerId)
      .executeTakeFirst();
    return row?.secret as Record<string, string> | undefined;
  }

  async remove(ownerId: string): Promise<void> {
    await this.db.deleteFrom('reaction_secrets').where('owner_id', '=', ownerId).execute();
  }
}
