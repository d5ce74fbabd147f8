/**
 * Sluice in this test process (startSluice from src/main.ts) on a fresh test database, with
 * an injectable clock, listening on 127.0.0.1; plus a small JSON client over fetch.
 */
import { rm } from 'node:fs/promises';
import { pino } from 'pino';
import type { Clock } from '../../src/application/ports.js';
import { loadConfig } from '../../src/config.js';
import { type RunningSluice, startSluice } from '../../src/main.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { freePort } from './free-port.js';
import { makeDataDir } from './server-process.js';

export const ADMIN_PASSWORD = 'admin-test-password';
export const TICKET_SECRET = 'test-ticket-secret-0123456789';

export class FakeClock implements Clock {
  private offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export interface TestSluice {
  readonly base: string;
  readonly sluice: RunningSluice;
  readonly database: TestDatabase;
  readonly clock: FakeClock;
  /** Files, host keys and staged uploads of this instance. */
  readonly dataDir: string;
  stop(): Promise<void>;
}

export async function startTestSluice(
  options: { env?: Record<string, string>; database?: TestDatabase } = {},
): Promise<TestSluice> {
  const database = options.database ?? (await createTestDatabase('sluice'));
  const dataDir = await makeDataDir();
  const clock = new FakeClock();
  const config = loadConfig({
    DATABASE_URL: database.url,
    MFT_HTTP_PORT: String(await freePort()),
    MFT_BIND_ADDRESS: '127.0.0.1',
    MFT_ADMIN_PASSWORD: ADMIN_PASSWORD,
    MFT_TICKET_SECRET: TICKET_SECRET,
    MFT_SFTP_PORT: String(await freePort()),
    MFT_FTPS_PORT: String(await freePort()),
    MFT_FTPS_IMPLICIT_PORT: String(await freePort()),
    MFT_DATA_DIR: dataDir,
    // Tests sign in wrongly on purpose from loopback; the defender's own tests set their list.
    MFT_DEFENDER_ALLOW: '127.0.0.1',
    // Tree heads only when a test asks (a periodic one would add events to a long test's log).
    MFT_TREE_HEAD_INTERVAL_SECONDS: '0',
    ...options.env,
  });
  const sluice = await startSluice(config, { clock, logger: pino({ level: 'silent' }) });
  return {
    base: sluice.address,
    sluice,
    database,
    clock,
    dataDir,
    async stop() {
      await sluice.stop('test finished');
      if (!options.database) await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface JsonResponse<T = Record<string, unknown>> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
}

/** A JSON call; `token` becomes `Authorization: Bearer <token>`. */
export async function call<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
): Promise<JsonResponse<T>> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...options.headers,
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: (text ? JSON.parse(text) : null) as T };
}

/** Signs in as `admin` (OpenImmutable on the admin application, 1: never replaced); returns the bearer token. */
export async function adminSession(base: string): Promise<string> {
  const res = await call<{ token: string }>(base, 'POST', '/api/v1/sessions/open-immutable', {
    body: { userName: 'admin', password: ADMIN_PASSWORD, applicationId: 1, clientVersion: 'tests' },
  });
  if (res.status !== 201) throw new Error(`admin sign-in failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.token;
}

/** Registers (admin token) an integrator's application; throws unless it is created. */
export async function registerApplication(
  base: string,
  token: string,
  applicationId: number,
  name: string,
): Promise<void> {
  const res = await call(base, 'POST', '/api/v1/applications', { token, body: { applicationId, name } });
  if (res.status !== 201)
    throw new Error(`application ${applicationId}: ${res.status} ${JSON.stringify(res.body)}`);
}

/** Creates a user (admin token); resolves with its id; throws unless it is created. */
export async function createUser(
  base: string,
  token: string,
  body: Record<string, unknown>,
): Promise<number> {
  const res = await call<{ userId: number }>(base, 'POST', '/api/v1/users', { token, body });
  if (res.status !== 201)
    throw new Error(`user ${String(body.userName)}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.userId;
}

/** Waits until the views hold every event committed so far; resolves with that position. */
export async function viewsCaughtUp(t: TestSluice): Promise<number> {
  const { pool } = t.database.open({ max: 1 });
  const row = await pool.query('SELECT coalesce(max(global_position), 0) AS head FROM events');
  const head = Number(row.rows[0].head);
  if (!(await t.sluice.runner.waitForPosition(head, 20_000)))
    throw new Error(`the views did not reach position ${head} within 20 s`);
  return head;
}
