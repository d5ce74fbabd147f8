/**
 * Issue 15: the sign-in defender, driven by real clients from distinct loopback addresses
 * (curl --interface, paramiko bound to a source address): a guesser is banned after the
 * configured failures over HTTP or SSH alike, the ban holds on a second instance on the same
 * database, a flood adds a bounded number of events, allow-listed addresses are never banned,
 * a user name is banned after failures from many addresses (for those addresses only: its user,
 * the admin included, still signs in from an address that has not failed), and an admin lists
 * and lifts bans.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { curl, curlSignIn } from '../support/curl.js';
import { paramikoGuesses } from '../support/sftp-clients.js';
import { ADMIN_PASSWORD, startTestSluice, type TestSluice } from '../support/sluice.js';

const PASSWORD = 'defender-test-password';
const ENV = {
  MFT_DEFENDER_ALLOW: '127.0.0.3',
  MFT_DEFENDER_MAX_FAILURES_PER_ADDRESS: '5',
  MFT_DEFENDER_MAX_FAILURES_PER_USER: '8',
  // Holds before the ban are signin-delays.test.ts's; short here, so this file stays quick.
  MFT_DEFENDER_DELAY_MS: '20',
  MFT_DEFENDER_DELAY_MAX_MS: '40',
};
let t: TestSluice;
let second: TestSluice;
let admin: string;

function api(method: string, route: string, body?: unknown) {
  return curl([
    '-X',
    method,
    '-H',
    `authorization: Bearer ${admin}`,
    ...(body === undefined ? [] : ['-H', 'content-type: application/json', '-d', JSON.stringify(body)]),
    `${t.base}${route}`,
  ]);
}

async function count(type: string): Promise<number> {
  const { pool } = t.database.open({ max: 1 });
  return Number((await pool.query('SELECT count(*) AS n FROM events WHERE type = $1', [type])).rows[0].n);
}

async function events(type: string): Promise<Array<Record<string, unknown>>> {
  const { pool } = t.database.open({ max: 1 });
  return (
    await pool.query('SELECT data FROM events WHERE type = $1 ORDER BY global_position', [type])
  ).rows.map((r: { data: Record<string, unknown> }) => r.data);
}

before(async () => {
  t = await startTestSluice({ env: ENV });
  second = await startTestSluice({ env: ENV, database: t.database });
  const res = await curlSignIn(t.base, '127.0.0.1', 'admin', ADMIN_PASSWORD);
  assert.equal(res.status, 201, res.body);
  admin = res.json<{ token: string }>().token;
  for (const userName of ['alice', 'bob', 'carol', 'dave']) {
    const created = await api('POST', '/api/v1/users', {
      userName,
      emailAddress: `${userName}@example.com`,
      password: PASSWORD,
    });
    assert.equal(created.status, 201, created.body);
  }
});

after(async () => {
  await second?.stop();
  await t?.stop();
});

describe('the sign-in defender', () => {
  it('bans an address after the configured failures over HTTP; the right password is then refused, on every instance', async () => {
    for (let i = 0; i < 5; i++) {
      assert.equal((await curlSignIn(t.base, '127.0.0.2', 'alice', `wrong ${i}`)).status, 401);
    }
    const right = await curlSignIn(t.base, '127.0.0.2', 'alice', PASSWORD);
    assert.equal(right.status, 429, right.body);
    assert.equal(right.json<{ type: string }>().type, '/problems/too-many-failures');
    assert.ok(Number(right.headers['retry-after']) > 0);
    const onSecond = await curlSignIn(second.base, '127.0.0.2', 'alice', PASSWORD);
    assert.equal(onSecond.status, 429, 'the ban is shared through the database');
    const banned = await events('SignInBanned');
    assert.deepEqual(
      banned.map((b) => [b.scope, b.key, b.failures, b.banNumber]),
      [['address', '127.0.0.2', 5, 1]],
    );
  });

  it('a flood while banned adds a bounded number of events', async () => {
    const failedBefore = await count('SignInFailed');
    const flood = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        curlSignIn(i % 2 ? second.base : t.base, '127.0.0.2', 'alice', `x${i}`),
      ),
    );
    assert.ok(flood.every((r) => r.status === 429));
    assert.equal(await count('SignInFailed'), failedBefore, 'no event per refused attempt');
    await t.sluice.defender.summarize();
    await second.sluice.defender.summarize();
    const summaries = (await events('SignInAttemptsRefused')).filter((e) => e.key === '127.0.0.2');
    assert.equal(summaries.length, 1, 'one summary for the whole flood');
    assert.equal(
      summaries[0]?.count,
      42,
      'the right password, its retry on the second instance, and the flood',
    );
  });

  it('never bans an allow-listed address', async () => {
    for (let i = 0; i < 7; i++) {
      assert.equal((await curlSignIn(t.base, '127.0.0.3', 'bob', `wrong ${i}`)).status, 401);
    }
    assert.equal((await curlSignIn(t.base, '127.0.0.3', 'bob', PASSWORD)).status, 201);
  });

  it('bans an SSH guesser (paramiko) just the same, and the ban holds for HTTP too', async () => {
    const guesses = ['g1', 'g2', 'g3', 'g4', 'g5', PASSWORD];
    const result = await paramikoGuesses(t.sluice.sftpPort, 'carol', '127.0.0.4', guesses);
    assert.deepEqual(result.stdout.trim().split('\n'), [
      'refused',
      'refused',
      'refused',
      'refused',
      'refused',
      'refused',
    ]);
    assert.equal((await curlSignIn(t.base, '127.0.0.4', 'carol', PASSWORD)).status, 429);
    assert.ok((await events('SignInBanned')).some((b) => b.key === '127.0.0.4'));
  });

  it('bans a user name guessed from many addresses, for the guessing addresses only: its user still signs in from elsewhere', async () => {
    // 3 + 3 + 2 = 8 failures, no address reaching its own limit of 5.
    for (const [from, n] of [
      ['127.0.0.5', 3],
      ['127.0.0.6', 3],
      ['127.0.0.7', 2],
    ] as const) {
      for (let i = 0; i < n; i++) assert.equal((await curlSignIn(t.base, from, 'DAVE', `w${i}`)).status, 401);
    }
    assert.ok((await events('SignInBanned')).some((b) => b.scope === 'user' && b.key === 'dave'));
    const guesser = await curlSignIn(t.base, '127.0.0.5', 'dave', PASSWORD);
    assert.equal(guesser.status, 429, 'an address that failed is refused the name, right password or not');
    assert.equal((await curlSignIn(second.base, '127.0.0.7', 'dave', PASSWORD)).status, 429);
    assert.equal(
      (await curlSignIn(t.base, '127.0.0.8', 'dave', PASSWORD)).status,
      201,
      'the real user, from an address that has not failed, is not locked out',
    );
    // A new address gets one guess at a banned name; after it fails, it is refused too.
    assert.equal((await curlSignIn(t.base, '127.0.0.9', 'dave', 'w9')).status, 401);
    assert.equal((await curlSignIn(t.base, '127.0.0.9', 'dave', PASSWORD)).status, 429);
  });

  it('guesses at the admin’s name (not allow-listed here) do not lock the admin out', async () => {
    for (const from of ['127.0.0.10', '127.0.0.11']) {
      for (let i = 0; i < 4; i++)
        assert.equal((await curlSignIn(t.base, from, 'admin', `w${i}`)).status, 401);
    }
    assert.ok((await events('SignInBanned')).some((b) => b.scope === 'user' && b.key === 'admin'));
    assert.equal((await curlSignIn(t.base, '127.0.0.10', 'admin', ADMIN_PASSWORD)).status, 429);
    const res = await curlSignIn(t.base, '127.0.0.1', 'admin', ADMIN_PASSWORD);
    assert.equal(res.status, 201, res.body);
    assert.equal((await curlSignIn(second.base, '127.0.0.12', 'admin', ADMIN_PASSWORD)).status, 201);
  });

  it('an admin lists the bans and lifts one (recorded); the address may sign in again', async () => {
    const list = await api('GET', '/api/v1/bans');
    assert.equal(list.status, 200, list.body);
    const keys = list
      .json<{ items: Array<{ scope: string; key: string }> }>()
      .items.map((b) => `${b.scope}:${b.key}`)
      .sort();
    assert.deepEqual(keys, ['address:127.0.0.2', 'address:127.0.0.4', 'user:admin', 'user:dave']);
    // Paged like every list, in the same order, and each read recorded as an audit read.
    type BanPage = { items: Array<{ scope: string; key: string }>; nextCursor: string | null };
    const paged: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: BanPage = (
        await api('GET', `/api/v1/bans?limit=3${cursor ? `&cursor=${cursor}` : ''}`)
      ).json<BanPage>();
      paged.push(...page.items.map((b) => `${b.scope}:${b.key}`));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    assert.equal(pages, 2);
    assert.deepEqual(
      paged,
      list.json<BanPage>().items.map((b) => `${b.scope}:${b.key}`),
    );
    assert.equal((await api('GET', '/api/v1/bans?cursor=bm90LWEtY3Vyc29y')).status, 400);
    const reads = (await events('AuditQueried')).filter((e) => e.query === 'bans.list');
    assert.equal(reads.length, 3, 'the whole list and two pages; a refused cursor reads nothing');
    assert.equal((await api('DELETE', '/api/v1/bans/address/127.0.0.2')).status, 204);
    assert.equal((await api('DELETE', '/api/v1/bans/address/127.0.0.2')).status, 404);
    assert.equal((await curlSignIn(t.base, '127.0.0.2', 'alice', PASSWORD)).status, 201);
    assert.deepEqual(
      (await events('SignInBanLifted')).map((e) => [e.scope, e.key]),
      [['address', '127.0.0.2']],
    );
    const refused = await curl([
      '-H',
      `authorization: Bearer ${admin}`,
      `${t.base}/api/v1/bans/user/a%01b`,
      '-X',
      'DELETE',
    ]);
    assert.equal(refused.status, 400);
  });
});
