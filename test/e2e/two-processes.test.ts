/**
 * Two Sluice processes on one database (the scale-out topology): invariants hold through the
 * event store's optimistic concurrency, not through either process's memory.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { TicketCodec } from '../../src/adapters/tickets/ticket-codec.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { type ServerProcess, spawnServer } from '../support/server-process.js';
import { ADMIN_PASSWORD, call, TICKET_SECRET } from '../support/sluice.js';

let database: TestDatabase;
let a: ServerProcess;
let b: ServerProcess;

before(async () => {
  database = await createTestDatabase('twoproc');
  const env = {
    DATABASE_URL: database.url,
    MFT_ADMIN_PASSWORD: ADMIN_PASSWORD,
    MFT_TICKET_SECRET: TICKET_SECRET,
  };
  // Started together: both try to bootstrap the admin user.
  [a, b] = await Promise.all([spawnServer({ env }), spawnServer({ env })]);
  const admin = await call<{ sessionId: string; token: string }>(
    a.baseUrl,
    'POST',
    '/api/v1/sessions/open-immutable',
    {
      body: { userName: 'admin', password: ADMIN_PASSWORD, applicationId: 1 },
    },
  );
  const token = admin.body.token;
  assert.equal(
    (
      await call(b.baseUrl, 'POST', '/api/v1/applications', {
        token,
        body: { applicationId: 1000, name: 'Portal' },
      })
    ).status,
    201,
  );
  const user = await call(a.baseUrl, 'POST', '/api/v1/users', {
    token,
    body: { userName: 'alice', emailAddress: 'alice@example.com', password: 'alice-password-1' },
  });
  assert.equal(user.status, 201);
});

after(async () => {
  const codes = await Promise.all([a?.stop(), b?.stop()]);
  assert.deepEqual(codes, [0, 0]);
  for (const server of [a, b]) if (server) await rm(server.dataDir, { recursive: true, force: true });
  await database.drop();
});

describe('two processes sharing one database', () => {
  it('created the admin user exactly once', async () => {
    const { pool } = database.open({ max: 1 });
    const admins = await pool.query(
      "SELECT count(*) FROM events WHERE type = 'UserCreated' AND data->>'userName' = 'admin'",
    );
    assert.equal(Number(admins.rows[0].count), 1);
  });

  it('50 concurrent Opens of one user and application: exactly one session is alive afterwards', async () => {
    const opens = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        call<{ sessionId: string; token: string }>(
          i % 2 ? a.baseUrl : b.baseUrl,
          'POST',
          '/api/v1/sessions/open',
          {
            body: {
              userName: 'alice',
              password: 'alice-password-1',
              applicationId: 1000,
              clientVersion: `racer ${i}`,
            },
          },
        ),
      ),
    );
    assert.ok(
      opens.every((o) => o.status === 201),
      'every Open succeeded when it answered',
    );
    const checks = await Promise.all(
      opens.map((o, i) =>
        call<{ type?: string }>(i % 2 ? b.baseUrl : a.baseUrl, 'GET', '/api/v1/sessions/current', {
          token: o.body.token,
        }),
      ),
    );
    assert.equal(checks.filter((c) => c.status === 200).length, 1, 'exactly one alive');
    assert.ok(
      checks.filter((c) => c.status !== 200).every((c) => c.body.type === '/problems/session-replaced'),
    );

    const { pool } = database.open({ max: 1 });
    const slot = await pool.query(
      "SELECT type, count(*) AS n FROM events WHERE stream_id LIKE 'signin-%-1000' GROUP BY type",
    );
    const counts = Object.fromEntries(
      slot.rows.map((r: { type: string; n: string }) => [r.type, Number(r.n)]),
    );
    assert.deepEqual(counts, { SessionSlotClaimed: 50, SessionReplaced: 49 });
  });

  it('a ticket is accepted once, whichever process sees it first', async () => {
    const codec = new TicketCodec(TICKET_SECRET);
    for (let round = 0; round < 5; round++) {
      const ticket = codec.mint({
        applicationId: 1000,
        subject: { kind: 'user', userName: 'alice' },
        timestamp: new Date(),
      });
      const answers = await Promise.all(
        [a, b].map((server) =>
          call<{ type?: string }>(server.baseUrl, 'POST', '/api/v1/sessions/open-with-ticket', {
            body: { ticket, applicationId: 1000, clientVersion: 'sso' },
          }),
        ),
      );
      assert.deepEqual(answers.map((r) => r.status).sort(), [201, 401]);
      assert.equal(answers.find((r) => r.status === 401)?.body.type, '/problems/ticket-replayed');
    }
  });
});
