/**
 * Issue 13 item 6: replaceable sessions end after MFT_SESSION_IDLE_SECONDS without use, whether
 * the next request or the expiry sweep notices first; the end is a SessionExpired with cause
 * `idle` at the moment the session went idle. Driven with curl; the clock is the test's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { curl } from '../support/curl.js';
import {
  adminSession,
  call,
  createUser,
  registerApplication,
  startTestSluice,
  type TestSluice,
} from '../support/sluice.js';

const IDLE_SECONDS = 60;
const PASSWORD = 'idle-test-password';
let t: TestSluice;
let admin: string;

type Opened = { sessionId: string; token: string; position: number };

async function open(path: 'open' | 'open-immutable'): Promise<Opened> {
  const res = await curl([
    '-X',
    'POST',
    '-H',
    'content-type: application/json',
    '--data',
    JSON.stringify({ userName: 'idler', password: PASSWORD, applicationId: 1000, clientVersion: 'curl' }),
    `${t.base}/api/v1/sessions/${path}`,
  ]);
  assert.equal(res.status, 201, res.body);
  return res.json<Opened>();
}

/** GET /sessions/current with the token: the status and the problem type when refused. */
async function use(token: string): Promise<{ status: number; type?: string }> {
  const res = await curl(['-H', `authorization: Bearer ${token}`, `${t.base}/api/v1/sessions/current`]);
  return { status: res.status, ...(res.status === 200 ? {} : { type: res.json<{ type: string }>().type }) };
}

async function expiries(sessionId: string): Promise<Array<{ expiredAt: string; cause?: string }>> {
  const { pool } = t.database.open({ max: 1 });
  try {
    const { rows } = await pool.query(
      `SELECT data FROM events WHERE type = 'SessionExpired' AND data->>'sessionId' = $1`,
      [sessionId],
    );
    return rows.map((r: { data: { expiredAt: string; cause?: string } }) => r.data);
  } finally {
    await pool.end();
  }
}

async function openedAt(sessionId: string): Promise<number> {
  const { pool } = t.database.open({ max: 1 });
  try {
    const { rows } = await pool.query(
      `SELECT data->>'openedAt' AS at, data->>'idleTimeoutMs' AS idle FROM events
        WHERE type = 'SessionOpened' AND data->>'sessionId' = $1`,
      [sessionId],
    );
    return Date.parse(rows[0].at);
  } finally {
    await pool.end();
  }
}

before(async () => {
  t = await startTestSluice({
    env: { MFT_SESSION_IDLE_SECONDS: String(IDLE_SECONDS), MFT_SESSION_EXPIRY_INTERVAL_SECONDS: '86400' },
  });
  admin = await adminSession(t.base);
  await registerApplication(t.base, admin, 1000, 'Idle portal');
  await createUser(t.base, admin, {
    userName: 'idler',
    emailAddress: 'idler@example.com',
    password: PASSWORD,
  });
});

after(() => t.stop());

describe('idle timeout of replaceable sessions (MFT_SESSION_IDLE_SECONDS)', () => {
  it('a session used within its idle timeout lives on; unused for it, it ends, recorded as idle', async () => {
    const session = await open('open');
    const opened = await openedAt(session.sessionId);
    t.clock.advance(50_000);
    assert.equal((await use(session.token)).status, 200, '50 s after opening');
    t.clock.advance(50_000);
    const usedFrom = t.clock.now().getTime();
    assert.equal((await use(session.token)).status, 200, '100 s after opening, 50 s after the last use');
    const usedBy = t.clock.now().getTime();
    t.clock.advance((IDLE_SECONDS + 1) * 1000);
    assert.deepEqual(await use(session.token), { status: 401, type: '/problems/session-idle' });
    const [expiry, ...more] = await expiries(session.sessionId);
    assert.equal(more.length, 0, 'recorded once');
    assert.equal(expiry?.cause, 'idle');
    // It went idle IDLE_SECONDS after its last use, which came 100 s after it opened.
    assert.ok(usedFrom >= opened + 100_000);
    assert.ok(Date.parse(expiry.expiredAt) >= usedFrom + IDLE_SECONDS * 1000, expiry.expiredAt);
    assert.ok(Date.parse(expiry.expiredAt) <= usedBy + IDLE_SECONDS * 1000, expiry.expiredAt);
    assert.deepEqual(
      await use(session.token),
      { status: 401, type: '/problems/session-idle' },
      'and stays ended',
    );
  });

  it('the expiry sweep ends idle sessions no request comes for; the audit row says idle', async () => {
    const session = await open('open');
    const openedBy = t.clock.now().getTime();
    const opened = await openedAt(session.sessionId);
    t.clock.advance((IDLE_SECONDS + 1) * 1000);
    assert.ok((await t.sluice.expiry.runOnce()) >= 1);
    const [expiry] = await expiries(session.sessionId);
    assert.equal(expiry?.cause, 'idle');
    assert.ok(Date.parse(expiry.expiredAt) >= opened + IDLE_SECONDS * 1000, expiry.expiredAt);
    assert.ok(Date.parse(expiry.expiredAt) <= openedBy + IDLE_SECONDS * 1000, expiry.expiredAt);
    assert.deepEqual(await use(session.token), { status: 401, type: '/problems/session-idle' });
    assert.equal(await t.sluice.expiry.runOnce(), 0, 'a settled session is not swept again');
    const { pool } = t.database.open({ max: 1 });
    try {
      const position = (
        await pool.query(`SELECT max(global_position)::int AS p FROM events WHERE type = 'SessionExpired'`)
      ).rows[0].p as number;
      assert.ok(await t.sluice.runner.waitForPosition(position, 10_000));
    } finally {
      await pool.end();
    }
    const rows = await call<{ items: Array<{ operation: string; reason: string | null }> }>(
      t.base,
      'GET',
      `/api/v1/audit/events?sessionId=${session.sessionId}&operation=session.expire`,
      { token: admin },
    );
    assert.equal(rows.status, 200, JSON.stringify(rows.body));
    assert.deepEqual(
      rows.body.items.map((r) => [r.operation, r.reason]),
      [['session.expire', 'idle']],
    );
  });

  it('a closed session is not recorded as expired when its idle time passes', async () => {
    const session = await open('open');
    const closed = await curl([
      '-X',
      'POST',
      '-H',
      `authorization: Bearer ${session.token}`,
      `${t.base}/api/v1/sessions/close`,
    ]);
    assert.equal(closed.status, 200, closed.body);
    t.clock.advance((IDLE_SECONDS + 1) * 1000);
    await t.sluice.expiry.runOnce();
    assert.deepEqual(await expiries(session.sessionId), []);
    assert.deepEqual(await use(session.token), { status: 401, type: '/problems/session-closed' });
  });

  it('immutable sessions have no idle timeout', async () => {
    const session = await open('open-immutable');
    t.clock.advance(IDLE_SECONDS * 3 * 1000);
    await t.sluice.expiry.runOnce();
    assert.equal((await use(session.token)).status, 200);
    assert.deepEqual(await expiries(session.sessionId), []);
  });
});
