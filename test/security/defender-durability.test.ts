/**
 * The sign-in defender's effects wait for their events: a ban starts, a ban is lifted and
 * refusal counts are let go only once SignInBanned, SignInBanLifted or SignInAttemptsRefused
 * is durable. Appends are made to fail in PostgreSQL itself (a trigger refusing one event
 * type), and applying a recorded change is made to fail the same way; the clients are curl
 * from distinct loopback addresses.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { curl, curlSignIn } from '../support/curl.js';
import { ADMIN_PASSWORD, startTestSluice, type TestSluice } from '../support/sluice.js';

const PASSWORD = 'durability-test-password';
let t: TestSluice;
let admin: string;

function sqlQuery(text: string, values: unknown[] = []) {
  const { pool } = t.database.open({ max: 1 });
  return pool.query(text, values);
}

/** Makes PostgreSQL refuse every append of `type` until `allow(type)`. */
async function refuse(type: string): Promise<void> {
  await sqlQuery(`
    CREATE OR REPLACE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'test refuses %', NEW.type; END $$`);
  await sqlQuery(
    `CREATE TRIGGER "refuse ${type}" BEFORE INSERT ON events FOR EACH ROW
     WHEN (NEW.type = '${type}') EXECUTE FUNCTION test_refuse()`,
  );
}

async function allow(type: string): Promise<void> {
  await sqlQuery(`DROP TRIGGER "refuse ${type}" ON events`);
}

async function events(type: string): Promise<Array<{ stream: string; data: Record<string, unknown> }>> {
  const { rows } = await sqlQuery(
    'SELECT stream_id AS stream, data FROM events WHERE type = $1 ORDER BY global_position',
    [type],
  );
  return rows;
}

async function bannedUntil(address: string): Promise<Date | null> {
  const { rows } = await sqlQuery(
    "SELECT banned_until FROM signin_defender WHERE scope = 'address' AND key = $1",
    [address],
  );
  return rows[0]?.banned_until ?? null;
}

function lift(address: string) {
  return curl([
    '-X',
    'DELETE',
    '-H',
    `authorization: Bearer ${admin}`,
    `${t.base}/api/v1/bans/address/${address}`,
  ]);
}

async function guess(from: string, times: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < times; i++)
    statuses.push((await curlSignIn(t.base, from, 'erin', `wrong ${i}`)).status);
  return statuses;
}

before(async () => {
  t = await startTestSluice({
    env: {
      MFT_DEFENDER_MAX_FAILURES_PER_ADDRESS: '3',
      MFT_DEFENDER_MAX_FAILURES_PER_USER: '1000',
      MFT_DEFENDER_DELAY_MS: '0',
    },
  });
  const res = await curlSignIn(t.base, '127.0.0.1', 'admin', ADMIN_PASSWORD);
  assert.equal(res.status, 201, res.body);
  admin = res.json<{ token: string }>().token;
  const created = await curl([
    '-X',
    'POST',
    '-H',
    `authorization: Bearer ${admin}`,
    '-H',
    'content-type: application/json',
    '-d',
    JSON.stringify({ userName: 'erin', emailAddress: 'erin@example.com', password: PASSWORD }),
    `${t.base}/api/v1/users`,
  ]);
  assert.equal(created.status, 201, created.body);
});

after(async () => {
  await t?.stop();
});

describe('the defender records before it acts', () => {
  it('a ban whose SignInBanned cannot be recorded fails the attempt and never starts; the next failure records and starts it', async () => {
    await refuse('SignInBanned');
    assert.deepEqual(await guess('127.0.0.2', 3), [401, 401, 500]);
    assert.equal(await bannedUntil('127.0.0.2'), null, 'no ban without its event');
    assert.equal((await curlSignIn(t.base, '127.0.0.2', 'erin', PASSWORD)).status, 201);
    await allow('SignInBanned');
    assert.deepEqual(await guess('127.0.0.2', 1), [401]);
    assert.equal((await curlSignIn(t.base, '127.0.0.2', 'erin', PASSWORD)).status, 429);
    assert.deepEqual(
      (await events('SignInBanned')).map((e) => [e.stream, e.data.failures, e.data.banNumber]),
      [['signin-ban-address-1-127.0.0.2', 4, 1]],
    );
  });

  it('a ban recorded but not started (the table refused) is started, as recorded, by the next failure', async () => {
    await sqlQuery(`
      CREATE OR REPLACE FUNCTION test_refuse_ban() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'test refuses to start a ban'; END $$`);
    await sqlQuery(`CREATE TRIGGER "refuse ban start" BEFORE UPDATE ON signin_defender FOR EACH ROW
      WHEN (NEW.ban_number > OLD.ban_number) EXECUTE FUNCTION test_refuse_ban()`);
    assert.deepEqual(await guess('127.0.0.5', 3), [401, 401, 500]);
    const [recorded] = (await events('SignInBanned')).filter((e) => e.data.key === '127.0.0.5');
    assert.ok(recorded, 'the ban was recorded');
    assert.equal(await bannedUntil('127.0.0.5'), null);
    await sqlQuery('DROP TRIGGER "refuse ban start" ON signin_defender');
    t.clock.advance(1000);
    assert.deepEqual(await guess('127.0.0.5', 1), [401]);
    assert.equal((await curlSignIn(t.base, '127.0.0.5', 'erin', PASSWORD)).status, 429);
    assert.equal((await bannedUntil('127.0.0.5'))?.toISOString(), recorded.data.until, 'the recorded ban');
    assert.equal((await events('SignInBanned')).filter((e) => e.data.key === '127.0.0.5').length, 1);
  });

  it('a lift whose SignInBanLifted cannot be recorded answers 500 and the ban holds; then it is lifted once', async () => {
    await refuse('SignInBanLifted');
    assert.equal((await lift('127.0.0.2')).status, 500);
    assert.ok(await bannedUntil('127.0.0.2'), 'the ban still holds');
    assert.equal((await curlSignIn(t.base, '127.0.0.2', 'erin', PASSWORD)).status, 429);
    assert.deepEqual(await events('SignInBanLifted'), []);
    await allow('SignInBanLifted');
    assert.equal((await lift('127.0.0.2')).status, 204);
    assert.equal((await curlSignIn(t.base, '127.0.0.2', 'erin', PASSWORD)).status, 201);
    assert.deepEqual(
      (await events('SignInBanLifted')).map((e) => e.stream),
      ['signin-ban-address-1-127.0.0.2'],
      'on the ban’s own stream, after SignInBanned',
    );
  });

  it('a lift recorded but not applied (the table refused) is applied by the next call, not recorded again', async () => {
    await sqlQuery(`CREATE TRIGGER "refuse lift" BEFORE UPDATE ON signin_defender FOR EACH ROW
      WHEN (NEW.banned_until IS NULL AND OLD.banned_until IS NOT NULL) EXECUTE FUNCTION test_refuse_ban()`);
    assert.equal((await lift('127.0.0.5')).status, 500);
    assert.equal((await events('SignInBanLifted')).length, 2, 'recorded');
    await sqlQuery('DROP TRIGGER "refuse lift" ON signin_defender');
    assert.equal((await lift('127.0.0.5')).status, 204);
    assert.equal((await lift('127.0.0.5')).status, 404);
    assert.equal((await events('SignInBanLifted')).length, 2, 'not recorded twice');
    assert.equal((await curlSignIn(t.base, '127.0.0.5', 'erin', PASSWORD)).status, 201);
  });

  it('refusals whose summary cannot be recorded are kept, then recorded exactly once', async () => {
    assert.deepEqual(await guess('127.0.0.4', 3), [401, 401, 401]);
    assert.deepEqual(await guess('127.0.0.4', 2), [429, 429]);
    await refuse('SignInAttemptsRefused');
    await assert.rejects(t.sluice.defender.summarize(), /test refuses SignInAttemptsRefused/);
    assert.deepEqual(await guess('127.0.0.4', 3), [429, 429, 429]);
    await assert.rejects(t.sluice.defender.summarize());
    await allow('SignInAttemptsRefused');
    await t.sluice.defender.summarize();
    await t.sluice.defender.summarize();
    await t.sluice.defender.summarize();
    const summaries = (await events('SignInAttemptsRefused')).filter((e) => e.data.key === '127.0.0.4');
    assert.deepEqual(
      summaries.map((e) => [e.stream, e.data.count]),
      [
        ['signin-refused-address-1-127.0.0.4', 2],
        ['signin-refused-address-2-127.0.0.4', 3],
      ],
      'every refusal counted once',
    );
  });
});
