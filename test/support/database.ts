/**
 * Real PostgreSQL for tests: `npm test` (test/run.ts) starts one embedded server per run and
 * passes its address in SLUICE_TEST_PG_URL; every test file then gets its own fresh database.
 * Run alone (`node --import tsx --test test/x.test.ts`), a file starts a server of its own.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { type DatabaseHandle, openDatabase } from '../../src/adapters/database/connect.js';
import { startEmbeddedPostgres } from '../../src/adapters/database/embedded-postgres.js';
import { freePort } from './free-port.js';

let serverUrl: Promise<string> | undefined;

/** Starts an embedded PostgreSQL in a throw-away directory; returns its `postgres` database URL. */
export async function startTestPostgres(): Promise<{ url: string; stop: () => Promise<void>; dir: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-test-pg-'));
  await chmod(dir, 0o755);
  const server = await startEmbeddedPostgres({ dataDir: dir, port: await freePort(), database: 'postgres' });
  return { url: server.url, stop: server.stop, dir };
}

function testServerUrl(): Promise<string> {
  serverUrl ??= process.env.SLUICE_TEST_PG_URL
    ? Promise.resolve(process.env.SLUICE_TEST_PG_URL)
    : startTestPostgres().then((s) => s.url);
  return serverUrl;
}

export interface TestDatabase {
  /** Connection string of the fresh database. */
  readonly url: string;
  readonly name: string;
  open<DB>(options?: { max?: number }): DatabaseHandle<DB>;
  /** Closes every handle opened through `open` and drops the database. */
  drop(): Promise<void>;
}

/** A new, empty database on the test server. */
export async function createTestDatabase(prefix = 't'): Promise<TestDatabase> {
  const adminUrl = await testServerUrl();
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = adminUrl.replace(/\/[^/]*$/, `/${name}`);
  const handles: DatabaseHandle<unknown>[] = [];
  return {
    url,
    name,
    open<DB>(options?: { max?: number }) {
      const handle = openDatabase<DB>(url, options);
      handles.push(handle as DatabaseHandle<unknown>);
      return handle;
    },
    async drop() {
      await Promise.all(handles.map((h) => h.db.destroy().catch(() => undefined)));
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}
