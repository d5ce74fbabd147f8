/**
 * Issue 14 item 5: SSH connections that end before signing in are counted per source address
 * and summed into ConnectionAttemptsSummarized events (timeouts, refusals at the caps, clients
 * that went away) — visible in the audit view as `connection.attempts`; a flood from many
 * addresses adds a bounded number of events.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Connections } from '../../src/application/connections.js';
import { createHarness, type Harness } from '../projections/harness.js';
import { adminSession, call, startTestSluice, type TestSluice } from '../support/sluice.js';

let t: TestSluice;

before(async () => {
  t = await startTestSluice({
    env: { MFT_SSH_AUTH_TIMEOUT_SECONDS: '1', MFT_SSH_MAX_UNAUTHENTICATED_PER_ADDRESS: '2' },
  });
});

after(() => t.stop());

/** A TCP connection to the SFTP port that says nothing; resolves when the server closes it. */
function silent(): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(t.sluice.sftpPort, '127.0.0.1');
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
    socket.on('connect', () => socket.resume());
    setTimeout(() => reject(new Error('never closed by the server')), 30_000).unref();
  });
}

/** OpenSSH with no password and no key: it gives up, and the connection ends unauthenticated. */
function sshWithoutCredentials(): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(
      'ssh',
      [
        '-p',
        String(t.sluice.sftpPort),
        '-o',
        'BatchMode=yes',
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'PubkeyAuthentication=no',
        'nobody@127.0.0.1',
        'true',
      ],
      { stdio: 'ignore' },
    );
    child.on('exit', (code) => resolve(code));
  });
}

async function summaries(): Promise<Array<Record<string, unknown>>> {
  const { pool } = t.database.open({ max: 1 });
  const { rows } = await pool.query(
    `SELECT data FROM events WHERE type = 'ConnectionAttemptsSummarized' ORDER BY global_position`,
  );
  return rows.map((r: { data: Record<string, unknown> }) => r.data);
}

describe('connections that end before signing in (SSH)', () => {
  it('are counted per address by outcome and recorded in one summary, shown as connection.attempts', async () => {
    // Two silent connections fill the per-address cap and are cut at the 1 s timeout; while
    // they wait, a third is refused at once; then OpenSSH gives up without credentials.
    const held = [silent(), silent()];
    await new Promise((r) => setTimeout(r, 200));
    await silent();
    await Promise.all(held);
    assert.notEqual(await sshWithoutCredentials(), 0);
    // The server sees OpenSSH's connection close a moment after the client exits: sum until
    // all four are in (each summary is one event, for the one address).
    let recorded: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 50; i++) {
      const events = await t.sluice.connections.summarize();
      assert.ok(events <= 1, 'one address, at most one event per summary');
      recorded = await summaries();
      if (recorded.reduce((n, e) => n + Number(e.count), 0) >= 4) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(recorded.every((e) => e.remoteAddress === '127.0.0.1' && e.protocol === 'sftp'));
    const outcomes = { timeout: 0, refused: 0, closed: 0 };
    for (const e of recorded)
      for (const [k, v] of Object.entries(e.outcomes as typeof outcomes))
        outcomes[k as keyof typeof outcomes] += v;
    assert.deepEqual(outcomes, { timeout: 2, refused: 1, closed: 1 });
    assert.equal(await t.sluice.connections.summarize(), 0, 'nothing new, nothing recorded');
    const total = recorded.reduce((n, e) => n + Number(e.count), 0);

    const admin = await adminSession(t.base);
    const { pool } = t.database.open({ max: 1 });
    const head = Number((await pool.query('SELECT max(global_position) AS p FROM events')).rows[0].p);
    assert.ok(await t.sluice.runner.waitForPosition(head, 10_000));
    const rows = await call<{
      items: Array<{ clientIp: string; outcome: string; detail: { count: number } }>;
    }>(t.base, 'GET', '/api/v1/audit/events?operation=connection.attempts', { token: admin });
    assert.equal(rows.status, 200, JSON.stringify(rows.body));
    assert.equal(rows.body.items.length, recorded.length);
    assert.ok(rows.body.items.every((r) => r.clientIp === '127.0.0.1' && r.outcome === 'failure'));
    assert.equal(
      rows.body.items.reduce((n, r) => n + r.detail.count, 0),
      total,
    );
  });
});

describe('the summary of many addresses', () => {
  let h: Harness;
  before(async () => {
    h = await createHarness();
  });
  after(() => h.dispose());

  it('gives the busiest addresses a row each and sums the rest in one', async () => {
    const connections = new Connections({
      store: h.store,
      clock: { now: () => new Date() },
      ids: { uuid: () => crypto.randomUUID() },
      maxAddressesPerSummary: 2,
    });
    const ends: Array<[string, 'timeout' | 'refused' | 'closed', number]> = [
      ['198.51.100.1', 'closed', 5],
      ['198.51.100.2', 'timeout', 3],
      ['198.51.100.3', 'refused', 2],
      ['2001:db8::4', 'closed', 1],
    ];
    for (const [address, outcome, n] of ends)
      for (let i = 0; i < n; i++) connections.endedUnauthenticated('sftp', address, outcome);
    assert.equal(await connections.summarize(), 3);
    const { rows } = await h.database
      .open({ max: 1 })
      .pool.query(
        `SELECT data FROM events WHERE type = 'ConnectionAttemptsSummarized' ORDER BY global_position`,
      );
    assert.deepEqual(
      rows.map((r: { data: Record<string, unknown> }) => [
        r.data.remoteAddress,
        r.data.addresses,
        r.data.count,
        r.data.outcomes,
      ]),
      [
        ['198.51.100.1', 1, 5, { timeout: 0, refused: 0, closed: 5 }],
        ['198.51.100.2', 1, 3, { timeout: 3, refused: 0, closed: 0 }],
        [null, 2, 3, { timeout: 0, refused: 2, closed: 1 }],
      ],
    );
  });
});
