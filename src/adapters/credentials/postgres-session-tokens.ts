/**
 * Session bearer tokens on PostgreSQL: `sluice_` + 43 base64url characters (256 random bits).
 * Only SHA-256(token) is stored: a 256-bit random secret needs no slow hash, and a leaked
 * table names sessions but lets no one act as them. Each row also keeps when the token was
 * last used and, for sessions with an idle timeout, when it goes idle.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { SessionTokens, TokenUse } from '../../application/ports.js';

export interface SessionTokenTables {
  session_tokens: {
    token_hash: Buffer;
    session_id: string;
    last_used_at: Date | null;
    idle_timeout_ms: number | null;
    idle_at: Date | null;
  };
}

const PREFIX = 'sluice_';
const TOKEN = /^sluice_[A-Za-z0-9_-]{43}$/;

const hashOf = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

const use = (row: { session_id: string; last_used_at: Date | null }): TokenUse => ({
  sessionId: row.session_id,
  lastUsedAt: row.last_used_at ?? undefined,
});

export class PostgresSessionTokens implements SessionTokens {
  constructor(private readonly db: Kysely<SessionTokenTables>) {}

  async issue(sessionId: string, idleTimeoutMs: number | null, now: Date): Promise<string> {
    const token = PREFIX + randomBytes(32).toString('base64url');
    await this.db
      .insertInto('session_tokens')
      .values({
        token_hash: hashOf(token),
        session_id: sessionId,
        last_used_at: now,
        idle_timeout_ms: idleTimeoutMs,
        idle_at: idleTimeoutMs === null ? null : new Date(now.getTime() + idleTimeoutMs),
      })
      .execute();
    return token;
  }

  async resolve(token: string): Promise<TokenUse | undefined> {
    if (!TOKEN.test(token)) return undefined;
    const row = await this.db
      .selectFrom('session_tokens')
      .select(['session_id', 'last_used_at'])
      .where('token_hash', '=', hashOf(token))
      .executeTakeFirst();
    return row && use(row);
  }

  async touch(token: string, now: Date): Promise<void> {
    // Never backwards (a slower concurrent request), and only while the idleness is followed.
    await this.db
      .updateTable('session_tokens')
      .set({
        last_used_at: now,
        idle_at: sql<Date>`${now}::timestamptz + idle_timeout_ms * interval '1 millisecond'`,
      })
      .where('token_hash', '=', hashOf(token))
      .where('idle_at', 'is not', null)
      .where('last_used_at', '<', now)
      .execute();
  }

  async idle(now: Date, limit: number): Promise<TokenUse[]> {
    const rows = await this.db
      .selectFrom('session_tokens')
      .select(['session_id', 'last_used_at'])
      .where('idle_at', 'is not', null)
      .where('idle_at', '<=', now)
      .orderBy('idle_at')
      .limit(limit)
      .execute();
    return rows.map(use);
  }

  async settle(sessionId: string): Promise<void> {
    await this.db
      .updateTable('session_tokens')
      .set({ idle_at: null })
      .where('session_id', '=', sessionId)
      .execute();
  }
}
