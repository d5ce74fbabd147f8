/**
 * Issue 15: holds before the ban, with real clients from distinct loopback addresses (curl
 * --interface, paramiko bound to a source address). Each further failure of an address or a
 * user name is answered later (0, 0, 100 ms, 200 ms, 400 ms, capped), the same for HTTP and
 * SSH; an attempt from an address still held waits before it is checked, on every instance
 * (the hold lives in PostgreSQL); real users from other addresses are never held, not even
 * the one whose name is guessed; and no hold adds an event. What the tests read is what the
 * defender reports (`sluice_signin_delay_seconds`, the `signin_defender` table), never a clock.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { curlSignIn } from '../support/curl.js';
import { metricSamples } from '../support/metrics.js';
import { paramikoGuesses } from '../support/sftp-clients.js';
import { adminSession, call, startTestSluice, type TestSluice } from '../support/sluice.js';

const PASSWORD = 'delays-test-password';
const ENV = {
  MFT_DEFENDER_MAX_FAILURES_PER_ADDRESS: '20',
  MFT_DEFENDER_MAX_FAILURES_PER_USER: '50',
  MFT_DEFENDER_DELAY_FREE_FAILURES: '2',
  MFT_DEFENDER_DELAY_MS: '100',
  MFT_DEFENDER_DELAY_MAX_MS: '400',
};
let t: TestSluice;
/** A second instance on the same database whose every failure holds its address for 3 s. */
let slow: TestSluice;

async function delays(base: string): Promise<{ failure: [number, number]; early: [number, number] }> {
  const s = await metricSamples(base, 'sluice_signin_delay_seconds');
  const pair = (kind: string): [number, number] => [
    s[`sluice_signin_delay_seconds_count{kind="${kind}"}`] ?? 0,
    Math.round((s[`sluice_signin_delay_seconds_sum{kind="${kind}"}`] ?? 0) * 1000) / 1000,
  ];
  return { failure: pair('failure'), early: pair('early') };
}

async function eventCounts(): Promise<Record<string, number>> {
  const { pool } = t.database.open({ max: 1 });
  const { rows } = await pool.query('SELECT type, count(*)::int AS n FROM events GROUP BY type');
  return Object.fromEntries(rows.map((r: { type: string; n: number }) => [r.type, r.n]));
}

async function heldUntil(address: string): Promise<Date | null> {
  const { pool } = t.database.open({ max: 1 });
  const { rows } = await pool.query(
    "SELECT held_until FROM signin_defender WHERE scope = 'address' AND key = $1",
    [address],
  );
  return (rows[0]?.held_until as Date | undefined) ?? null;
}

before(async () => {
  t = await startTestSluice({ env: ENV });
  slow = await startTestSluice({
    env: {
      ...ENV,
      MFT_DEFENDER_DELAY_FREE_FAILURES: '0',
      MFT_DEFENDER_DELAY_MS: '3000',
      MFT_DEFENDER_DELAY_MAX_MS: '3000',
    },
    database: t.database,
  });
  const admin = await adminSession(t.base);
  for (const userName of ['alice', 'bob', 'carol', 'erin']) {
    const created = await call(t.base, 'POST', '/api/v1/users', {
      token: admin,
      body: { userName, emailAddress: `${userName}@example.com`, password: PASSWORD },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  }
});

after(async () => {
  await slow?.stop();
  await t?.stop();
});

describe('sign-in holds before the ban', () => {
  it('answers each further wrong password from curl later: 0, 0, 100, 200, 400, 400 ms, and records no event for it', async () => {
    const before = await eventCounts();
    for (let i = 0; i < 6; i++) {
      assert.equal((await curlSignIn(t.base, '127.0.0.2', 'alice', `wrong ${i}`)).status, 401);
    }
    assert.deepEqual((await delays(t.base)).failure, [4, 1.1], 'four holds: 0.1 + 0.2 + 0.4 + 0.4 s');
    assert.ok((await heldUntil('127.0.0.2')) !== null, 'the hold is shared through the database');
    const after = await eventCounts();
    const added = Object.fromEntries(
      Object.entries(after)
        .map(([type, n]) => [type, n - (before[type] ?? 0)])
        .filter(([, n]) => n !== 0),
    );
    assert.deepEqual(added, { SignInFailed: 6 }, 'one event per failure, as before: none for a hold');
  });

  it('never holds real users from other addresses, not even the one whose name was guessed', async () => {
    const before = await delays(t.base);
    assert.equal((await curlSignIn(t.base, '127.0.0.5', 'bob', PASSWORD)).status, 201);
    assert.equal((await curlSignIn(t.base, '127.0.0.6', 'alice', PASSWORD)).status, 201);
    assert.deepEqual(await delays(t.base), before);
  });

  it('holds a user name guessed from many addresses: its failures are answered later wherever they come from', async () => {
    const before = (await delays(t.base)).failure;
    // alice has 6 failures in the window already: the 7th, from a fresh address, is its own
    // address's first (no hold) but the name's 7th (400 ms).
    assert.equal((await curlSignIn(t.base, '127.0.0.7', 'alice', 'wrong again')).status, 401);
    assert.deepEqual((await delays(t.base)).failure, [before[0] + 1, before[1] + 0.4]);
  });

  it('holds SSH password guesses (paramiko) exactly as HTTP ones', async () => {
    const before = (await delays(t.base)).failure;
    const guesses = ['g1', 'g2', 'g3', 'g4', PASSWORD];
    const result = await paramikoGuesses(t.sluice.sftpPort, 'carol', '127.0.0.3', guesses);
    assert.deepEqual(result.stdout.trim().split('\n'), [
      'refused',
      'refused',
      'refused',
      'refused',
      'accepted',
    ]);
    const after = (await delays(t.base)).failure;
    assert.deepEqual([after[0] - before[0], Math.round((after[1] - before[1]) * 1000) / 1000], [2, 0.3]);
  });

  it('holds an attempt that comes before its address may try again, on another instance too', async () => {
    const before = await delays(t.base);
    // A failure on the slow instance holds 127.0.0.4 for 3 s; while its answer is still held,
    // the right password from the same address on the first instance waits before it is checked.
    const failing = curlSignIn(slow.base, '127.0.0.4', 'erin', 'wrong');
    while ((await heldUntil('127.0.0.4')) === null) await new Promise((r) => setTimeout(r, 10));
    const right = await curlSignIn(t.base, '127.0.0.4', 'erin', PASSWORD);
    assert.equal(right.status, 201, right.body);
    assert.equal((await failing).status, 401);
    const now = await delays(t.base);
    assert.equal(now.early[0], before.early[0] + 1, 'one attempt held before its check');
    assert.ok(now.early[1] > before.early[1]);
    assert.deepEqual(now.failure, before.failure, 'the right password is no failure');
    assert.deepEqual((await delays(slow.base)).failure, [1, 3]);
  });
});
