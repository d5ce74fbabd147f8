/**
 * The seven session calls through a real listening server (fetch), on real PostgreSQL, with a
 * fake clock for the 48-hour expiry. Each call's success and failures, and what the log holds.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { TicketCodec } from '../../src/adapters/tickets/ticket-codec.js';
import { adminSession, call, startTestSluice, type TestSluice, TICKET_SECRET } from '../support/sluice.js';

const run = promisify(execFile);
let t: TestSluice;
let admin: string;
const tickets = new TicketCodec(TICKET_SECRET);
const PASSWORD = 'alice-password-1';

type Opened = { sessionId: string; userId: number; position: number };
type ProblemBody = { type: string; status: number };

async function events(
  type: string,
): Promise<Array<{ data: Record<string, unknown>; metadata: Record<string, unknown> }>> {
  const { pool } = t.database.open({ max: 1 });
  const rows = await pool.query(
    'SELECT data, metadata FROM events WHERE type = $1 ORDER BY global_position',
    [type],
  );
  return rows.rows;
}

const ids: Record<string, number> = {};

async function createUser(userName: string, extra: Record<string, unknown> = {}): Promise<number> {
  const res = await call<{ userId: number }>(t.base, 'POST', '/api/v1/users', {
    token: admin,
    body: { userName, emailAddress: `${userName}@example.com`, password: PASSWORD, ...extra },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  ids[userName] = res.body.userId;
  return res.body.userId;
}

const open = (userName: string, applicationId = 1000, password = PASSWORD) =>
  call<Opened & ProblemBody>(t.base, 'POST', '/api/v1/sessions/open', {
    body: { userName, password, applicationId, clientVersion: 'PartnerPortal 4.2' },
  });
const current = (token: string) =>
  call<Record<string, unknown> & ProblemBody>(t.base, 'GET', '/api/v1/sessions/current', { token });

before(async () => {
  t = await startTestSluice();
  admin = await adminSession(t.base);
  for (const applicationId of [1000, 1001, 1002]) {
    const res = await call(t.base, 'POST', '/api/v1/applications', {
      token: admin,
      body: { applicationId, name: `Integrator ${applicationId}` },
    });
    assert.equal(res.status, 201);
  }
  assert.equal(
    (await call(t.base, 'PATCH', '/api/v1/applications/1002', { token: admin, body: { enabled: false } }))
      .status,
    200,
  );
  await createUser('alice');
  await createUser('bob');
  await createUser('service', { rights: ['impersonate'] });
  await createUser('plainservice');
});

after(() => t.stop());

describe('Open (replaceable)', () => {
  it('opens a session that knows who it is, with client version and address recorded', async () => {
    const res = await open('alice');
    assert.equal(res.status, 201);
    assert.match(res.body.sessionId, /^[0-9a-f-]{36}$/);
    assert.ok(res.body.position > 0);
    const me = await current(res.body.sessionId);
    assert.equal(me.status, 200);
    assert.equal(me.body.userName, 'alice');
    assert.equal(me.body.kind, 'replaceable');
    assert.equal(me.body.clientVersion, 'PartnerPortal 4.2');
    assert.equal(me.body.clientIp, '127.0.0.1');
    assert.equal(me.body.expiresAt, null);
  });

  it('takes the address from the connection, not from X-Forwarded-For (no proxy is trusted)', async () => {
    const res = await call<Opened>(t.base, 'POST', '/api/v1/sessions/open', {
      body: { userName: 'alice', password: PASSWORD, applicationId: 1002 - 2, clientVersion: 'x' },
      headers: { 'x-forwarded-for': '198.51.100.9' },
    });
    assert.equal(res.status, 201);
    assert.equal((await current(res.body.sessionId)).body.clientIp, '127.0.0.1');
  });

  it('is replaced by the next Open of the same user and application, and says so', async () => {
    const first = await open('alice', 1001);
    const second = await open('alice', 1001);
    const replaced = await current(first.body.sessionId);
    assert.equal(replaced.status, 401);
    assert.equal(replaced.body.type, '/problems/session-replaced');
    assert.equal((await current(second.body.sessionId)).status, 200);
    const replacedEvents = (await events('SessionReplaced')).map((e) => e.data);
    assert.ok(
      replacedEvents.some(
        (d) => d.sessionId === first.body.sessionId && d.replacedBy === second.body.sessionId,
      ),
    );
  });

  it('other applications of the same user stay signed in', async () => {
    const a = await open('bob', 1000);
    const b = await open('bob', 1001);
    assert.equal((await current(a.body.sessionId)).status, 200);
    assert.equal((await current(b.body.sessionId)).status, 200);
  });

  it('refuses a wrong password, an unknown user and a disabled user alike, and records each with its reason', async () => {
    const carolId = await createUser('carol');
    const wrong = await open('alice', 1000, 'not-the-password');
    const unknown = await open('nobody-by-this-name');
    assert.equal(
      (await call(t.base, 'PATCH', `/api/v1/users/${carolId}`, { token: admin, body: { enabled: false } }))
        .status,
      200,
    );
    const disabled = await open('carol');
    for (const res of [wrong, unknown, disabled]) {
      assert.equal(res.status, 401);
      assert.equal(res.body.type, '/problems/invalid-credentials');
    }
    assert.deepEqual(wrong.body, unknown.body, 'an unknown user looks like a wrong password');
    const failures = (await events('SignInFailed')).map((e) => e.data);
    assert.ok(
      failures.some(
        (d) => d.reason === 'invalid-credentials' && d.userName === 'alice' && d.method === 'password',
      ),
    );
    assert.ok(failures.some((d) => d.reason === 'unknown-user' && d.userName === 'nobody-by-this-name'));
    assert.ok(failures.some((d) => d.reason === 'user-disabled' && d.userId === carolId));
    assert.ok(failures.every((d) => d.clientIp === '127.0.0.1'));
  });

  it('refuses unknown, reserved-but-unused and disabled applications, recording the failure', async () => {
    for (const [applicationId, type] of [
      [4242, '/problems/unknown-application'],
      [999, '/problems/unknown-application'],
      [1002, '/problems/application-disabled'],
    ] as const) {
      const res = await open('alice', applicationId);
      assert.equal(res.status, 403);
      assert.equal(res.body.type, type);
    }
    const failures = (await events('SignInFailed')).map((e) => e.data);
    assert.ok(failures.some((d) => d.reason === 'unknown-application' && d.applicationId === 4242));
    assert.ok(failures.some((d) => d.reason === 'application-disabled' && d.applicationId === 1002));
  });

  it('rejects malformed bodies with a 400 problem and records nothing', async () => {
    const before = (await events('SignInFailed')).length;
    for (const body of [
      {},
      { userName: 'alice', password: PASSWORD, applicationId: '1000x', clientVersion: 'x' },
      { userName: 'alice', password: PASSWORD, applicationId: 1000, clientVersion: 'x', extra: true },
      { userName: 'a'.repeat(300), password: PASSWORD, applicationId: 1000, clientVersion: 'x' },
      { userName: 'alice', password: PASSWORD, applicationId: 1000, clientVersion: 'bad\u0000version' },
    ]) {
      const res = await call<ProblemBody>(t.base, 'POST', '/api/v1/sessions/open', { body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.type, '/problems/validation');
    }
    assert.equal((await events('SignInFailed')).length, before);
  });
});

describe('authentication of other calls', () => {
  it('requires a well-formed bearer session', async () => {
    for (const headers of [
      {} as Record<string, string>,
      { authorization: 'Basic YWxpY2U6eA==' },
      { authorization: 'Bearer not-a-uuid' },
    ]) {
      const res = await call<ProblemBody>(t.base, 'GET', '/api/v1/sessions/current', { headers });
      assert.equal(res.status, 401);
      assert.equal(res.body.type, '/problems/unauthenticated');
      assert.equal(res.headers.get('www-authenticate'), 'Bearer');
    }
    const unknown = await current('01937c2e-8a4b-7cde-9f01-23456789abcd');
    assert.equal(unknown.body.type, '/problems/session-unknown');
  });

  it('admin routes refuse a user without the admin right', async () => {
    const alice = await open('alice', 1000);
    const res = await call<ProblemBody>(t.base, 'GET', '/api/v1/users', { token: alice.body.sessionId });
    assert.equal(res.status, 403);
    assert.equal(res.body.type, '/problems/forbidden');
  });
});

describe('OpenWithTicket and OpenWithTicketEx', () => {
  const withTicket = (ticket: string, applicationId = 1000) =>
    call<Opened & ProblemBody>(t.base, 'POST', '/api/v1/sessions/open-with-ticket', {
      body: { ticket, applicationId, clientVersion: 'sso 1' },
    });

  it('signs in with a ticket minted by the Python example, once', async () => {
    const { stdout } = await run('/usr/bin/python3', ['docs/examples/mint_ticket.py', 'alice'], {
      env: { ...process.env, MFT_TICKET_SECRET: TICKET_SECRET },
    });
    const ticket = stdout.trim();
    const first = await withTicket(ticket);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const me = await current(first.body.sessionId);
    assert.equal(me.body.userName, 'alice');
    assert.equal(me.body.method, 'ticket');
    const replay = await withTicket(ticket);
    assert.equal(replay.status, 401);
    assert.equal(replay.body.type, '/problems/ticket-replayed');
  });

  it('replaces the Open session of the same application', async () => {
    const opened = await open('bob', 1000);
    const ticketed = await withTicket(tickets.mint({ userName: 'bob', timestamp: t.clock.now() }));
    assert.equal(ticketed.status, 201);
    assert.equal((await current(opened.body.sessionId)).body.type, '/problems/session-replaced');
  });

  it('gives each rejection its own problem type', async () => {
    const now = t.clock.now();
    const cases: Array<[string, string]> = [
      [
        tickets.mint({ userName: 'alice', timestamp: new Date(now.getTime() - 10 * 60_000) }),
        '/problems/ticket-expired',
      ],
      [
        tickets.mint({ userName: 'alice', timestamp: new Date(now.getTime() + 10 * 60_000) }),
        '/problems/ticket-expired',
      ],
      [
        new TicketCodec('another-secret-0123456789').mint({ userName: 'alice', timestamp: now }),
        '/problems/ticket-wrong-key',
      ],
      ['not-a-ticket!', '/problems/ticket-malformed'],
      [tickets.mint({ userName: 'nobody-here', timestamp: now }), '/problems/unknown-user'],
    ];
    for (const [ticket, type] of cases) {
      const res = await withTicket(ticket);
      assert.equal(res.status, 401);
      assert.equal(res.body.type, type);
    }
    const reasons = (await events('SignInFailed')).map((e) => e.data.reason);
    for (const reason of ['ticket-expired', 'ticket-wrong-key', 'ticket-malformed', 'unknown-user'])
      assert.ok(reasons.includes(reason));
  });

  it('OpenWithTicketEx finds the user by e-mail address, or creates it (recorded as created by the ticket)', async () => {
    const ex = (emailAddress: string) =>
      call<Opened & ProblemBody>(t.base, 'POST', '/api/v1/sessions/open-with-ticket-ex', {
        body: {
          // The user name inside is ignored by this call.
          ticket: tickets.mint({ userName: 'ignored', siteName: 'any', timestamp: t.clock.now() }),
          emailAddress,
          firstName: 'Dana',
          lastName: 'Scully',
          applicationId: 1000,
          clientVersion: 'sso 2',
        },
      });
    const existing = await ex('ALICE@example.com');
    assert.equal(existing.status, 201);
    assert.equal((await current(existing.body.sessionId)).body.userName, 'alice');

    const created = await ex('dana@partner.example');
    assert.equal(created.status, 201);
    const me = await current(created.body.sessionId);
    assert.equal(me.body.userName, 'dana@partner.example');
    const userCreated = (await events('UserCreated'))
      .map((e) => e.data)
      .find((d) => d.emailAddress === 'dana@partner.example');
    assert.deepEqual(userCreated?.createdBy, { kind: 'ticket', applicationId: 1000 });
    assert.equal(userCreated?.firstName, 'Dana');
    assert.equal(userCreated?.credentialVersion, null);

    const again = await ex('dana@partner.example');
    assert.equal(
      (await current(again.body.sessionId)).body.userId,
      me.body.userId,
      'found, not created twice',
    );
    assert.equal((await current(created.body.sessionId)).body.type, '/problems/session-replaced');
  });
});

describe('immutable sessions', () => {
  const openImmutable = (userName: string, applicationId: number) =>
    call<Opened & ProblemBody>(t.base, 'POST', '/api/v1/sessions/open-immutable', {
      body: { userName, password: PASSWORD, applicationId },
    });

  it('are not replaced by later sign-ins', async () => {
    const immutable = await openImmutable('alice', 1000);
    assert.equal(immutable.status, 201);
    await open('alice', 1000);
    const second = await openImmutable('alice', 1000);
    assert.notEqual(
      second.body.sessionId,
      immutable.body.sessionId,
      'other applications get a new one each time',
    );
    const me = await current(immutable.body.sessionId);
    assert.equal(me.status, 200);
    assert.equal(me.body.kind, 'immutable');
    assert.equal(me.body.clientVersion, null);
  });

  it('for SFTP and FTPS return the user’s alive session of that protocol', async () => {
    const first = await openImmutable('bob', 3);
    const again = await openImmutable('bob', 3);
    assert.equal(first.status, 201);
    assert.equal(again.status, 200);
    assert.equal(again.body.sessionId, first.body.sessionId);
    const ftps = await openImmutable('bob', 4);
    assert.notEqual(ftps.body.sessionId, first.body.sessionId);
    // Once it has ended, the next sign-in opens a new one.
    assert.equal(
      (await call(t.base, 'POST', '/api/v1/sessions/close', { body: { sessionId: first.body.sessionId } }))
        .status,
      200,
    );
    const next = await openImmutable('bob', 3);
    assert.equal(next.status, 201);
    assert.notEqual(next.body.sessionId, first.body.sessionId);
  });

  it('expire 48 hours after opening (SessionExpired from the scheduler with a fake clock)', async () => {
    const immutable = await openImmutable('alice', 1001);
    const replaceable = await open('bob', 1001);
    assert.ok(await t.sluice.runner.waitForPosition(immutable.body.position, 10_000));
    t.clock.advance(47 * 3600_000);
    assert.equal(await t.sluice.expiry.runOnce(), 0);
    assert.equal((await current(immutable.body.sessionId)).status, 200);
    t.clock.advance(3600_000 + 1000);
    const expiredCheck = await current(immutable.body.sessionId);
    assert.equal(expiredCheck.status, 401);
    assert.equal(expiredCheck.body.type, '/problems/session-expired');
    assert.ok((await t.sluice.expiry.runOnce()) >= 1);
    const expired = (await events('SessionExpired')).map((e) => e.data);
    assert.ok(expired.some((d) => d.sessionId === immutable.body.sessionId));
    assert.equal(
      (await current(replaceable.body.sessionId)).status,
      200,
      'replaceable sessions do not expire',
    );
    const close = await call<ProblemBody>(t.base, 'POST', '/api/v1/sessions/close', {
      body: { sessionId: immutable.body.sessionId },
    });
    assert.equal(close.status, 409);
    assert.equal(close.body.type, '/problems/session-ended');
  });
});

describe('OpenImmutableImpersonate and OpenImmutableUserString', () => {
  let service: string;
  let aliceId: number;

  before(async () => {
    service = (
      await call<Opened>(t.base, 'POST', '/api/v1/sessions/open-immutable', {
        body: { userName: 'service', password: PASSWORD, applicationId: 1000, clientVersion: 'svc' },
      })
    ).body.sessionId;
    aliceId = ids.alice!;
  });

  it('a service with the impersonate right opens an immutable session for a user, recording itself and the end user’s address', async () => {
    const res = await call<Opened>(t.base, 'POST', '/api/v1/sessions/open-immutable-impersonate', {
      body: { serviceSessionId: service, userId: aliceId, applicationId: 1000, ipAddress: '198.51.100.23' },
    });
    assert.equal(res.status, 201);
    const me = await current(res.body.sessionId);
    assert.equal(me.body.userName, 'alice');
    assert.equal(me.body.kind, 'impersonated');
    assert.equal(me.body.clientIp, '198.51.100.23');
    assert.deepEqual(me.body.impersonator, {
      userId: (await current(service)).body.userId,
      sessionId: service,
    });
  });

  it('refuses a service without the right, a dead service session, and an unknown user', async () => {
    const plain = (
      await call<Opened>(t.base, 'POST', '/api/v1/sessions/open-immutable', {
        body: { userName: 'plainservice', password: PASSWORD, applicationId: 1000 },
      })
    ).body.sessionId;
    const attempt = (serviceSessionId: string, userId = aliceId) =>
      call<ProblemBody>(t.base, 'POST', '/api/v1/sessions/open-immutable-impersonate', {
        body: { serviceSessionId, userId, applicationId: 1000, ipAddress: '198.51.100.23' },
      });
    assert.equal((await attempt(plain)).body.type, '/problems/missing-right');
    assert.equal((await attempt(plain)).status, 403);
    assert.equal(
      (await attempt('01937c2e-8a4b-7cde-9f01-23456789abcd')).body.type,
      '/problems/service-session-invalid',
    );
    assert.equal((await attempt(service, 987654)).body.type, '/problems/invalid-credentials');
    const bad = await call<ProblemBody>(t.base, 'POST', '/api/v1/sessions/open-immutable-impersonate', {
      body: { serviceSessionId: service, userId: aliceId, applicationId: 1000, ipAddress: 'not-an-ip' },
    });
    assert.equal(bad.status, 400);
  });

  it('OpenImmutableUserString records the external person, in both credential forms', async () => {
    const viaService = await call<Opened>(t.base, 'POST', '/api/v1/sessions/open-immutable-user-string', {
      body: {
        serviceSessionId: service,
        userId: aliceId,
        applicationId: 1000,
        ipAddress: '198.51.100.24',
        userString: 'Jane Doe <jane@partner.example>',
      },
    });
    assert.equal(viaService.status, 201);
    const me = await current(viaService.body.sessionId);
    assert.equal(me.body.kind, 'user-string');
    assert.equal(me.body.userString, 'Jane Doe <jane@partner.example>');

    const viaPassword = await call<Opened>(t.base, 'POST', '/api/v1/sessions/open-immutable-user-string', {
      body: {
        userName: 'alice',
        password: PASSWORD,
        applicationId: 1000,
        clientVersion: 'x',
        userString: 'X',
      },
    });
    assert.equal(viaPassword.status, 201);
    assert.equal((await current(viaPassword.body.sessionId)).body.userString, 'X');
    const opened = (await events('SessionOpened')).find(
      (e) => e.data.sessionId === viaPassword.body.sessionId,
    );
    assert.equal(opened?.data.userString, 'X');
    assert.equal((opened?.metadata.actor as Record<string, unknown> | undefined)?.userString, 'X');
  });

  it('refuses a userString that is empty, too long or carries a NUL byte, and both forms at once', async () => {
    for (const userString of ['', 'x'.repeat(256), 'nul\u0000byte']) {
      const res = await call<ProblemBody>(t.base, 'POST', '/api/v1/sessions/open-immutable-user-string', {
        body: { userName: 'alice', password: PASSWORD, applicationId: 1000, clientVersion: 'x', userString },
      });
      assert.equal(res.status, 400, JSON.stringify(userString));
    }
    const both = await call<ProblemBody>(t.base, 'POST', '/api/v1/sessions/open-immutable-user-string', {
      body: {
        serviceSessionId: service,
        userId: aliceId,
        ipAddress: '198.51.100.24',
        userName: 'alice',
        password: PASSWORD,
        applicationId: 1000,
        clientVersion: 'x',
        userString: 'X',
      },
    });
    assert.equal(both.status, 400);
    const exactly255 = await call(t.base, 'POST', '/api/v1/sessions/open-immutable-user-string', {
      body: {
        userName: 'alice',
        password: PASSWORD,
        applicationId: 1000,
        clientVersion: 'x',
        userString: 'y'.repeat(255),
      },
    });
    assert.equal(exactly255.status, 201);
  });
});

describe('Close', () => {
  it('ends a session once; unknown is 404, already ended is 409', async () => {
    const session = (await open('alice', 1000)).body.sessionId;
    const closed = await call<{ sessionId: string }>(t.base, 'POST', '/api/v1/sessions/close', {
      body: { sessionId: session },
    });
    assert.equal(closed.status, 200);
    assert.equal((await current(session)).body.type, '/problems/session-closed');
    const again = await call<ProblemBody>(t.base, 'POST', '/api/v1/sessions/close', {
      body: { sessionId: session },
    });
    assert.equal(again.status, 409);
    assert.equal(again.body.type, '/problems/session-ended');
    const unknown = await call<ProblemBody>(t.base, 'POST', '/api/v1/sessions/close', {
      body: { sessionId: '01937c2e-8a4b-7cde-9f01-23456789abcd' },
    });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.type, '/problems/session-not-found');
    assert.equal(
      (await call(t.base, 'POST', '/api/v1/sessions/close', { body: { sessionId: 'nope' } })).status,
      400,
    );
  });
});

describe('secrets', () => {
  it('no password, ticket or hash appears in any event', async () => {
    const ticket = tickets.mint({ userName: 'alice', timestamp: t.clock.now() });
    assert.equal(
      (
        await call(t.base, 'POST', '/api/v1/sessions/open-with-ticket', {
          body: { ticket, applicationId: 1000, clientVersion: 'x' },
        })
      ).status,
      201,
    );
    const { pool } = t.database.open({ max: 1 });
    const all = (await pool.query('SELECT data::text || metadata::text AS text FROM events')).rows
      .map((r: { text: string }) => r.text)
      .join('\n');
    for (const secret of [PASSWORD, 'admin-test-password', 'not-the-password', ticket, TICKET_SECRET]) {
      assert.ok(!all.includes(secret), `a secret leaked into the events`);
    }
    assert.doesNotMatch(all, /\$argon2/);
  });
});
