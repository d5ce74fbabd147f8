/**
 * Session bearer tokens on PostgreSQL: `sluice_` + 43 base64url characters (256 random bits).
 * Only SHA-256(token) is stored: a 256-bit random secret needs no slow hash, and a leaked
 * table names sessions but lets no one act as them.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { SessionTokens } from '../../application/ports.js';

export interface SessionTokenTables {
  session_tokens: { token_hash: Buffer; session_id: string };
}

const PREFIX = 'sluice_';
const TOKEN = /^sluice_[A-Za-z0-9_-]{43}$/;

const hashOf = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

export class PostgresSessionTokens implements SessionTokens {
  constructor(private readonly db: Kysely<SessionTokenTables>) {}

  async issue(sessionId: string): Promise<string> {
    const token = PREFIX + randomBytes(32).toString('base64url');
    await this.db
      .insertInto('session_tokens')
      .values({ token_hash: hashOf(token), session_id: sessionId })
      .execute();
    return token;
  }

  async resolve(token: string): Promise<string | undefined> {
    if (!TOKEN.test(token)) return undefined;
    const row = await this.db
      .selectFrom('session_tokens')
      .select('session_id')
      .where('token_hash', '=', hashOf(token))
      .executeTakeFirst();
    return row?.session_id;
  }
}
