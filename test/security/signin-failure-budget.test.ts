/**
 * Failed sign-ins at unknown user names cannot grow the log without bound: past
 * MFT_DEFENDER_MAX_FAILURE_EVENTS_PER_MINUTE (shared by two instances on one database) they
 * are counted into SignInFailuresSummarized instead of one SignInFailed each, and the audit
 * shows the summary. Attempts are curl's, from several loopback addresses, at random names.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { curl, curlSignIn } from '../support/curl.js';
import { ADMIN_PASSWORD, startTestSluice, type TestSluice } from '../support/sluice.js';

const BUDGET = 5;
const ENV = {
  MFT_DEFENDER_MAX_FAILURE_EVENTS_PER_MINUTE: String(BUDGET),
  MFT_DEFENDER_MAX_FAILURES_PER_ADDRESS: '1000',
  MFT_DEFENDER_DELAY_MS: '0',
};
let t: TestSluice;
let second: TestSluice;
let admin: string;

async function counts(): Promise<{ failed: number; summarized: number[]; last: number }> {
  const { pool } = t.database.open({ max: 1 });
  const failed = await pool.query(
    "SELECT count(*)::int AS n FROM events WHERE type = 'SignInFailed' AND data->>'reason' = 'unknown-user'",
  );
  const summaries = await pool.query(
    "SELECT data FROM events WHERE type = 'SignInFailuresSummarized' ORDER BY global_position",
  );
  const last = await pool.query('SELECT max(global_position)::int AS p FROM events');
  return {
    failed: failed.rows[0].n,
    summarized: summaries.rows.map((r: { data: { count: number } }) => r.data.count),
    last: last.rows[0].p,
  };
}

/** `n` sign-ins at random names, 10 at a time, from 127.0.0.2-5, alternating instances. */
async function burst(n: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i += 10) {
    const batch = Array.from({ length: Math.min(10, n - i) }, (_, j) =>
      curlSignIn(
        (i + j) % 2 ? second.base : t.base,
        `127.0.0.${2 + ((i + j) % 4)}`,
        `nobody-${randomUUID()}`,
        'whatever',
      ),
    );
    statuses.push(...(await Promise.all(batch)).map((r) => r.status));
  }
  return statuses;
}

before(async () => {
  t = await startTestSluice({ env: ENV });
  second = await startTestSluice({ env: ENV, database: t.database });
  const res = await curlSignIn(t.base, '127.0.0.1', 'admin', ADMIN_PASSWORD);
  assert.equal(res.status, 201, res.body);
  admin = res.json<{ token: string }>().token;
});

after(async () => {
  await second?.stop();
  await t?.stop();
});

describe('the budget of SignInFailed events for unknown user names', () => {
  it('records the budget one by one and sums the rest into one summary, shown by the audit', async () => {
    const statuses = await burst(40);
    assert.ok(
      statuses.every((s) => s === 401),
      'every attempt is refused alike',
    );
    await t.sluice.defender.summarize();
    await second.sluice.defender.summarize();
    const { failed, summarized, last } = await counts();
    assert.equal(failed, BUDGET);
    assert.deepEqual(summarized, [40 - BUDGET], 'one summary for the rest');
    const audit = await curl([
      '-H',
      `authorization: Bearer ${admin}`,
      `${t.base}/api/v1/audit/events?operation=signin.failures&minPosition=${last}`,
    ]);
    assert.equal(audit.status, 200, audit.body);
    const items = audit.json<{ items: Array<Record<string, unknown>> }>().items;
    assert.equal(items.length, 1);
    assert.equal(items[0]?.reason, 'unknown-user');
    assert.equal(items[0]?.outcome, 'failure');
    assert.equal((items[0]?.detail as { count?: number } | undefined)?.count, 40 - BUDGET);
  });

  it('a new minute brings a new budget', async () => {
    t.clock.advance(61_000);
    second.clock.advance(61_000);
    await burst(8);
    await t.sluice.defender.summarize();
    const { failed, summarized } = await counts();
    assert.equal(failed, 2 * BUDGET);
    assert.deepEqual(summarized, [40 - BUDGET, 8 - BUDGET]);
  });
});
