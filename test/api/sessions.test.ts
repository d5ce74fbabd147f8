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

type Opened = { sessionId: string; token: string; userId: number; position: number };
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
/** A ticket for an existing user, minted for `applicationId`. */
const userTicket = (userName: string, timestamp: Date, applicationId = 1000) =>
  tickets.mint({ applicationId, subject: { kind: 'user', userName }, timestamp });
const current = (token: string) =>
  call<Record<string, unknown> & ProblemBody>(t.base, 'GET', '/api/v1/sessions/current', { token });

before(async () => {
  // The clock jumps days here; the idle timeout has its own tests (test/security/session-idle.test.ts).
  t = await startTestSluice({ env: { MFT_SESSION_IDLE_SECONDS: '0' } });
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
    const me = await current(res.body.token);
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
    assert.equal((await current(res.body.token)).body.clientIp, '127.0.0.1');
  });

  it('is replaced by the next Open of the same user and application, and says so', async () => {
    const first = await open('alice', 1001);
    const second = await open('alice', 1001);
    const replaced = await current(first.body.token);
    assert.equal(replaced.status, 401);
    assert.equal(replaced.body.type, '/problems/session-replaced');
    assert.equal((await current(second.body.token)).status, 200);
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
    assert.equal((await current(a.body.token)).status, 200);
    assert.equal((await current(b.body.token)).status, 200);
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
      { authorization: 'Bearer two words' },
      { authorization: `Bearer ${'x'.repeat(201)}` },
    ]) {
      const res = await call<ProblemBody>(t.base, 'GET', '/api/v1/sessions/current', { headers });
      assert.equal(res.status, 401);
      assert.equal(res.body.type, '/problems/unauthenticated');
      assert.equal(res.headers.get('www-authenticate'), 'Bearer');
    }
    const unknown = await current('01937c2e-8a4b-7cde-9f01-23456789abcd');
    assert.equal(unknown.body.type, '/problems/session-unknown');
  });

  it('a session’s public id is not a credential; its token is', async () => {
    const alice = await open('alice', 1001);
    assert.match(alice.body.token, /^sluice_[A-Za-z0-9_-]{43}$/);
    const byId = await current(alice.body.sessionId);
    assert.equal(byId.status, 401);
    assert.equal(byId.body.type, '/problems/session-unknown');
    const byToken = await current(alice.body.token);
    assert.equal(byToken.status, 200);
    assert.equal(byToken.body.sessionId, alice.body.sessionId);
    assert.equal(byToken.body.token, undefined, 'who-am-I never repeats the token');
  });

  it('admin routes refuse a user without the admin right', async () => {
    const alice = await open('alice', 1000);
    const res = await call<ProblemBody>(t.base, 'GET', '/api/v1/users', { token: alice.body.token });
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
    const { stdout } = await run('/usr/bin/python3', ['docs/examples/mint_ticket.py', '1000', 'alice'], {
      env: { ...process.env, MFT_TICKET_SECRET: TICKET_SECRET },
    });
    const ticket = stdout.trim();
    const first = await withTicket(ticket);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const me = await current(first.body.token);
    assert.equal(me.body.userName, 'alice');
    assert.equal(me.body.method, 'ticket');
    const replay = await withTicket(ticket);
    assert.equal(replay.status, 401);
    assert.equal(replay.body.type, '/problems/ticket-replayed');
  });

  it('replaces the Open session of the same application', async () => {
    const opened = await open('bob', 1000);
    const ticketed = await withTicket(userTicket('bob', t.clock.now()));
    assert.equal(ticketed.status, 201);
    assert.equal((await current(opened.body.token)).body.type, '/problems/session-replaced');
  });

  it('gives each rejection its own problem type', async () => {
    const now = t.clock.now();
    const cases: Array<[string, string]> = [
      [userTicket('alice', new Date(now.getTime() - 10 * 60_000)), '/problems/ticket-expired'],
      [userTicket('alice', new Date(now.getTime() + 10 * 60_000)), '/problems/ticket-expired'],
      [
        new TicketCodec('another-secret-0123456789').mint({
          applicationId: 1000,
          subject: { kind: 'user', userName: 'alice' },
          timestamp: now,
        }),
        '/problems/ticket-wrong-key',
      ],
      ['not-a-ticket!', '/problems/ticket-malformed'],
      [userTicket('nobody-here', now), '/problems/unknown-user'],
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
          ticket: tickets.mint({
            applicationId: 1000,
            subject: { kind: 'email', emailAddress, firstName: 'Dana', lastName: 'Scully' },
            siteName: 'any',
            timestamp: t.clock.now(),
          }),
          emailAddress,
          firstName: 'Dana',
          lastName: 'Scully',
          applicationId: 1000,
          clientVersion: 'sso 2',
        },
      });
    const existing = await ex('ALICE@example.com');
    assert.equal(existing.status, 201);
    assert.equal((await current(existing.body.token)).body.userName, 'alice');

    const created = await ex('dana@partner.example');
    assert.equal(created.status, 201);
    const me = await current(created.body.token);
    assert.equal(me.body.userName, 'dana@partner.example');
    const userCreated = (await events('UserCreated'))
      .map((e) => e.data)
      .find((d) => d.emailAddress === 'dana@partner.example');
    assert.deepEqual(userCreated?.createdBy, { kind: 'ticket', applicationId: 1000 });
    assert.equal(userCreated?.firstName, 'Dana');
    assert.equal(userCreated?.credentialVersion, null);

    const again = await ex('dana@partner.example');
    assert.equal((await current(again.body.token)).body.userId, me.body.userId, 'found, not created twice');
    assert.equal((await current(created.body.token)).body.type, '/problems/session-replaced');
  });
});

describe('tickets are bound to their application and subject', () => {
  const exBody = (ticket: string, overrides: Record<string, unknown> = {}) => ({
    ticket,
    emailAddress: 'erin@partner.example',
    firstName: 'Erin',
    lastName: 'Example',
    applicationId: 1000,
    clientVersion: 'sso 3',
    ...overrides,
  });
  const exTicket = (emailAddress: string, applicationId = 1000, firstName = 'Erin', lastName = 'Example') =>
    tickets.mint({
      applicationId,
      subject: { kind: 'email', emailAddress, firstName, lastName },
      timestamp: t.clock.now(),
    });
  const ex = (body: Record<string, unknown>) =>
    call<Opened & ProblemBody>(t.base, 'POST', '/api/v1/sessions/open-with-ticket-ex', { body });

  it('OpenWithTicketEx refuses an e-mail, a name or an application the ticket does not carry', async () => {
    const adminEmail = (
      await call<{ emailAddress: string }>(t.base, 'GET', `/api/v1/users/1`, { token: admin })
    ).body.emailAddress;
    const cases: Array<[string, Record<string, unknown>]> = [
      [exTicket('erin@partner.example'), { emailAddress: adminEmail }],
      [exTicket('erin@partner.example'), { emailAddress: 'alice@example.com' }],
      [exTicket('erin@partner.example'), { firstName: 'Mallory' }],
      [exTicket('erin@partner.example', 1001), { applicationId: 1000 }],
      [exTicket('erin@partner.example'), { applicationId: 1001 }],
      [userTicket('erin@partner.example', t.clock.now()), {}],
    ];
    for (const [ticket, overrides] of cases) {
      const res = await ex(exBody(ticket, overrides));
      assert.equal(res.status, 401, JSON.stringify(overrides));
      assert.equal(res.body.type, '/problems/ticket-mismatch');
    }
    const created = (await events('UserCreated')).map((e) => e.data.emailAddress);
    assert.ok(!created.includes('erin@partner.example'), 'nothing was created by a refused ticket');
    const ok = await ex(exBody(exTicket('ERIN@partner.example')));
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
  });

  it('OpenWithTicketEx refuses an e-mail that cannot be a user name before spending the ticket', async () => {
    const redeemed = (await events('TicketRedeemed')).length;
    const res = await ex(exBody(exTicket('a/b@partner.example'), { emailAddress: 'a/b@partner.example' }));
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.type, '/problems/invalid-user-name');
    assert.equal((await events('TicketRedeemed')).length, redeemed, 'the ticket is not spent');
  });

  it('OpenWithTicket refuses a ticket minted for another application', async () => {
    const res = await call<ProblemBody>(t.base, 'POST', '/api/v1/sessions/open-with-ticket', {
      body: { ticket: userTicket('alice', t.clock.now(), 1001), applicationId: 1000, clientVersion: 'x' },
    });
    assert.equal(res.status, 401);
    assert.equal(res.body.type, '/problems/ticket-mismatch');
  });

  it('never signs in a user holding admin, auditor or impersonate', async () => {
    for (const userName of ['admin', 'service']) {
      const res = await call<ProblemBody>(t.base, 'POST', '/api/v1/sessions/open-with-ticket', {
        body: { ticket: userTicket(userName, t.clock.now()), applicationId: 1000, clientVersion: 'x' },
      });
      assert.equal(res.status, 401, userName);
      assert.equal(res.body.type, '/problems/invalid-credentials');
    }
    const adminUser = (
      await call<{ emailAddress: string; firstName: string; lastName: string }>(
        t.base,
        'GET',
        '/api/v1/users/1',
        { token: admin },
      )
    ).body;
    const asAdmin = await ex(
      exBody(exTicket(adminUser.emailAddress, 1000, adminUser.firstName, adminUser.lastName), {
        emailAddress: adminUser.emailAddress,
        firstName: adminUser.firstName,
        lastName: adminUser.lastName,
      }),
    );
    assert.equal(asAdmin.status, 401);
    const failures = (await events('SignInFailed')).map((e) => e.data);
    assert.equal(failures.filter((d) => d.reason === 'privileged-user').length, 3);
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
    const me = await current(immutable.body.token);
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
    assert.notEqual(again.body.token, first.body.token, 'each sign-in gets a token of its own');
    assert.equal((await current(again.body.token)).body.sessionId, first.body.sessionId);
    const reused = (await events('SessionReused')).map((e) => e.data);
    assert.ok(
      reused.some((d) => d.sessionId === first.body.sessionId && d.method === 'password'),
      'handing out the alive session is a recorded sign-in',
    );
    // Once it has ended, the next sign-in opens a new one.
    assert.equal(
      (await call(t.base, 'POST', '/api/v1/sessions/close', { token: first.body.token })).status,
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
    assert.equal((await current(immutable.body.token)).status, 200);
    t.clock.advance(3600_000 + 1000);
    const expiredCheck = await current(immutable.body.token);
    assert.equal(expiredCheck.status, 401);
    assert.equal(expiredCheck.body.type, '/problems/session-expired');
    assert.ok((await t.sluice.expiry.runOnce()) >= 1);
    const expired = (await events('SessionExpired')).map((e) => e.data);
    assert.ok(expired.some((d) => d.sessionId === immutable.body.sessionId));
    assert.equal(
      (await current(replaceable.body.token)).status,
      200,
      'replaceable sessions have no lifetime unless configured',
    );
    admin = await adminSession(t.base); // the admin's own immutable session expired with the clock
    const close = await call<ProblemBody>(t.base, 'POST', '/api/v1/sessions/close', {
      token: admin,
      body: { sessionId: immutable.body.sessionId },
    });
    assert.equal(close.status, 409);
    assert.equal(close.body.type, '/problems/session-ended');
  });
});

describe('OpenImmutableImpersonate and OpenImmutableUserString', () => {
  let service: Opened;
  let aliceId: number;
  const impersonate = (token: string, userId: number, applicationId = 1000, ipAddress = '198.51.100.23') =>
    call<Opened & ProblemBody>(t.base, 'POST', '/api/v1/sessions/open-immutable-impersonate', {
      token,
      body: { userId, applicationId, ipAddress },
    });

  before(async () => {
    service = (
      await call<Opened>(t.base, 'POST', '/api/v1/sessions/open-immutable', {
        body: { userName: 'service', password: PASSWORD, applicationId: 1000, clientVersion: 'svc' },
      })
    ).body;
    aliceId = ids.alice!;
  });

  it('a service with the impersonate right opens an immutable session for a user, recording itself and the end user’s address', async () => {
    const res = await impersonate(service.token, aliceId);
    assert.equal(res.status, 201);
    const me = await current(res.body.token);
    assert.equal(me.body.userName, 'alice');
    assert.equal(me.body.kind, 'impersonated');
    assert.equal(me.body.clientIp, '198.51.100.23');
    assert.deepEqual(me.body.impersonator, { userId: service.userId, sessionId: service.sessionId });
  });

  it('refuses a service without the right, a dead or missing service token, and an unknown user', async () => {
    const plain = (
      await call<Opened>(t.base, 'POST', '/api/v1/sessions/open-immutable', {
        body: { userName: 'plainservice', password: PASSWORD, applicationId: 1000 },
      })
    ).body.token;
    assert.equal((await impersonate(plain, aliceId)).body.type, '/problems/missing-right');
    assert.equal((await impersonate(plain, aliceId)).status, 403);
    const byPublicId = await impersonate(service.sessionId, aliceId);
    assert.equal(byPublicId.body.type, '/problems/service-session-invalid', 'the public id is no credential');
    const noToken = await call<ProblemBody>(t.base, 'POST', '/api/v1/sessions/open-immutable-impersonate', {
      body: { userId: aliceId, applicationId: 1000, ipAddress: '198.51.100.23' },
    });
    assert.equal(noToken.status, 401);
    assert.equal(noToken.body.type, '/problems/unauthenticated');
    assert.equal((await impersonate(service.token, 987654)).body.type, '/problems/invalid-credentials');
    assert.equal((await impersonate(service.token, aliceId, 1000, 'not-an-ip')).status, 400);
    const old = await call<ProblemBody>(t.base, 'POST', '/api/v1/sessions/open-immutable-impersonate', {
      token: service.token,
      body: {
        serviceSessionId: service.sessionId,
        userId: aliceId,
        applicationId: 1000,
        ipAddress: '1.2.3.4',
      },
    });
    assert.equal(old.status, 400, 'the body no longer carries a service credential');
  });

  it('never reaches a user holding admin, auditor or impersonate, nor another application', async () => {
    const auditorId = await createUser('auditor1', { rights: ['auditor'] });
    const adminId = (await current(admin)).body.userId as number;
    for (const target of [adminId, auditorId, ids.service!]) {
      const res = await impersonate(service.token, target);
      assert.equal(res.status, 403, `user ${target}`);
      assert.equal(res.body.type, '/problems/target-privileged');
    }
    const elsewhere = await impersonate(service.token, aliceId, 1001);
    assert.equal(elsewhere.status, 403);
    assert.equal(elsewhere.body.type, '/problems/application-not-allowed');
    const failures = (await events('SignInFailed')).map((e) => e.data);
    assert.ok(failures.some((d) => d.reason === 'target-privileged' && d.userId === adminId));
    assert.ok(failures.some((d) => d.reason === 'application-not-allowed' && d.applicationId === 1001));
    const openedFor = (await events('SessionOpened')).map((e) => e.data.userId);
    assert.ok(!openedFor.includes(auditorId), 'no session was opened for the auditor');
  });

  it('OpenImmutableUserString records the external person, in both credential forms', async () => {
    const viaService = await call<Opened>(t.base, 'POST', '/api/v1/sessions/open-immutable-user-string', {
      token: service.token,
      body: {
        userId: aliceId,
        applicationId: 1000,
        ipAddress: '198.51.100.24',
        userString: 'Jane Doe <jane@partner.example>',
      },
    });
    assert.equal(viaService.status, 201);
    const me = await current(viaService.body.token);
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
    assert.equal((await current(viaPassword.body.token)).body.userString, 'X');
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
      token: service.token,
      body: {
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
  const close = (token: string | undefined, body?: Record<string, unknown>) =>
    call<ProblemBody & { sessionId: string }>(t.base, 'POST', '/api/v1/sessions/close', {
      ...(token === undefined ? {} : { token }),
      ...(body === undefined ? {} : { body }),
    });

  it('ends the caller’s own session once, recording the caller as closer', async () => {
    const session = (await open('alice', 1000)).body;
    const closed = await close(session.token);
    assert.equal(closed.status, 200);
    assert.equal(closed.body.sessionId, session.sessionId);
    assert.equal((await current(session.token)).body.type, '/problems/session-closed');
    const again = await close(session.token, { sessionId: session.sessionId });
    assert.equal(again.status, 401, 'a closed session’s token no longer authenticates');
    const recorded = (await events('SessionClosed')).find((e) => e.data.sessionId === session.sessionId);
    assert.equal(recorded?.data.closedBy, session.userId);
  });

  it('needs the session’s token or an admin: knowing the id is not enough', async () => {
    const victim = (await open('bob', 1000)).body;
    const anonymous = await close(undefined, { sessionId: victim.sessionId });
    assert.equal(anonymous.status, 401);
    const other = (await open('alice', 1000)).body;
    const byOther = await close(other.token, { sessionId: victim.sessionId });
    assert.equal(byOther.status, 403);
    assert.equal(byOther.body.type, '/problems/forbidden');
    assert.equal((await current(victim.token)).status, 200, 'still alive');

    const byAdmin = await close(admin, { sessionId: victim.sessionId });
    assert.equal(byAdmin.status, 200);
    assert.equal((await current(victim.token)).body.type, '/problems/session-closed');
    const adminId = (await current(admin)).body.userId;
    const recorded = (await events('SessionClosed')).find((e) => e.data.sessionId === victim.sessionId);
    assert.equal(recorded?.data.closedBy, adminId);

    const again = await close(admin, { sessionId: victim.sessionId });
    assert.equal(again.status, 409);
    assert.equal(again.body.type, '/problems/session-ended');
    const unknown = await close(admin, { sessionId: '01937c2e-8a4b-7cde-9f01-23456789abcd' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.type, '/problems/session-not-found');
    assert.equal((await close(admin, { sessionId: 'nope' })).status, 400);
  });
});

describe('secrets', () => {
  it('no session token appears in any event, view row or other response', async () => {
    const opened = [await open('alice', 1000), await open('bob', 1001)].map((r) => r.body);
    assert.ok(await t.sluice.runner.waitForPosition(opened[1]!.position, 10_000));
    const { pool } = t.database.open({ max: 1 });
    const all = (await pool.query('SELECT data::text || metadata::text AS text FROM events')).rows
      .map((r: { text: string }) => r.text)
      .join('\n');
    const tables = (
      await pool.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'session_tokens'",
      )
    ).rows.map((r: { table_name: string }) => r.table_name);
    let views = '';
    for (const table of tables) {
      views += (await pool.query(`SELECT coalesce(json_agg(x)::text, '') AS t FROM "${table}" x`)).rows[0].t;
    }
    const listed = JSON.stringify(
      (await call(t.base, 'GET', '/api/v1/sessions?limit=500&order=desc', { token: admin })).body,
    );
    const audit = JSON.stringify(
      (await call(t.base, 'GET', '/api/v1/audit/events?limit=500', { token: admin })).body,
    );
    const hashes = (await pool.query("SELECT encode(token_hash, 'hex') AS h FROM session_tokens")).rows.map(
      (r: { h: string }) => r.h,
    );
    for (const { token, sessionId } of [...opened, { token: admin, sessionId: '' }]) {
      const secret = token.slice('sluice_'.length);
      for (const [where, text] of Object.entries({ all, views, listed, audit })) {
        assert.ok(!text.includes(secret), `a token leaked into ${where}`);
      }
      assert.ok(sessionId === '' || listed.includes(sessionId), 'the public id is listed');
    }
    assert.ok(hashes.length >= opened.length, 'tokens are kept as hashes');
    for (const h of hashes)
      assert.ok(!all.includes(h) && !views.includes(h), 'token hashes stay out of the log');
  });

  it('no password, ticket or hash appears in any event', async () => {
    const ticket = userTicket('alice', t.clock.now());
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
