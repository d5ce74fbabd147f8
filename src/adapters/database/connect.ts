/** One pg pool per process behind a Kysely instance, with a clear error when unreachable. */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';

export interface DatabaseHandle<DB> {
  readonly db: Kysely<DB>;
  readonly pool: pg.Pool;
  readonly url: string;
}

/** The address part of a connection string, never its password, for messages and logs. */
export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.username ? `${u.username}@` : ''}${u.host}${u.pathname}`;
  } catch {
    return '(unparseable connection string)';
  }
}

export function openDatabase<DB>(url: string, options: { max?: number } = {}): DatabaseHandle<DB> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 20,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client's error must not crash the process; the pool replaces the client.
  pool.on('error', () => undefined);
  return { db: new Kysely<DB>({ dialect: new PostgresDialect({ pool }) }), pool, url };
}

/** Another typed view over the same pool (Kysely's table types do not widen or narrow). */
export function kyselyOn<DB>(pool: pg.Pool): Kysely<DB> {
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
}

/** Fails with one line naming the database and the reason when it cannot be reached. */
export async function checkReachable(handle: {
  readonly pool: pg.Pool;
  readonly url: string;
}): Promise<void> {
  try {
    const client = await handle.pool.connect();
    try {
      await client.query('SELECT 1');
    } finally {
      client.release();
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message || error.name : String(error);
    const code = (error as { code?: string }).code;
    throw new Error(
      `cannot reach database ${describeDatabaseUrl(handle.url)}: ${reason}${code && !reason.includes(code) ? ` (${code})` : ''}`,
    );
  }
}
