/**
 * Issue 14 item 5: a server's start is recorded with the configuration it runs under — and
 * without its secrets (the admin password, the ticket secret, the database password).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { curl } from '../support/curl.js';
import {
  ADMIN_PASSWORD,
  adminSession,
  startTestSluice,
  type TestSluice,
  TICKET_SECRET,
} from '../support/sluice.js';

let t: TestSluice;

before(async () => {
  t = await startTestSluice({ env: { MFT_SESSION_IDLE_SECONDS: '900', MFT_MAX_FILE_BYTES: '123456789' } });
});

after(() => t.stop());

describe('the start-up record', () => {
  it('ServerStarted carries the settings, secrets only as set or unset', async () => {
    const { pool } = t.database.open({ max: 1 });
    const { rows } = await pool.query(
      `SELECT data FROM events WHERE type = 'ServerStarted' AND data->>'instanceId' = $1`,
      [t.sluice.instanceId],
    );
    assert.equal(rows.length, 1);
    const configuration = rows[0].data.configuration as Record<string, unknown>;
    assert.equal(configuration.sessionIdleMs, 900_000);
    assert.equal(configuration['limits.maxFileBytes'], 123_456_789);
    assert.equal(configuration.adminPassword, 'set');
    assert.equal(configuration.ticketSecret, 'set');
    assert.equal(configuration.eventStoreUrl, null);
    assert.equal(configuration.dataDir, t.dataDir);
    const databaseUrl = new URL(t.database.url);
    assert.equal(configuration.databaseUrl, `postgres://${databaseUrl.host}${databaseUrl.pathname}`);

    const recorded = JSON.stringify(rows[0].data);
    for (const secret of [ADMIN_PASSWORD, TICKET_SECRET, decodeURIComponent(databaseUrl.password)]) {
      assert.ok(secret.length > 0);
      assert.ok(!recorded.includes(secret), 'no secret in the event');
    }
  });

  it('the audit row of server.start shows the configuration to an auditor (curl)', async () => {
    const admin = await adminSession(t.base);
    const { pool } = t.database.open({ max: 1 });
    const head = Number((await pool.query('SELECT max(global_position) AS p FROM events')).rows[0].p);
    assert.ok(await t.sluice.runner.waitForPosition(head, 10_000));
    const res = await curl([
      '-H',
      `authorization: Bearer ${admin}`,
      `${t.base}/api/v1/audit/events?operation=server.start&limit=50`,
    ]);
    assert.equal(res.status, 200, res.body);
    const items = res.json<{
      items: Array<{ detail: { instanceId: string; configuration?: Record<string, unknown> } }>;
    }>().items;
    const mine = items.find((i) => i.detail.instanceId === t.sluice.instanceId);
    assert.equal(mine?.detail.configuration?.['limits.maxFileBytes'], 123_456_789);
    assert.ok(!res.body.includes(ADMIN_PASSWORD));
  });
});
