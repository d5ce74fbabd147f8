/**
 * Issue 13 items 1–4, replayed with curl as the attacker did against a live server: each attack
 * once worked; each must now fail and leave nothing changed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TicketCodec } from '../../src/adapters/tickets/ticket-codec.js';
import { curl } from '../support/curl.js';
import { ADMIN_PASSWORD, startTestSluice, type TestSluice, TICKET_SECRET } from '../support/sluice.js';

const PASSWORD = 'attack-test-password';
const ADMIN_EMAIL = 'ops@sluice.example';
let t: TestSluice;
let admin: string;
/** Where the admin's session was opened: a view query waits for it (read-your-writes). */
let adminOpened: number;
const tickets = new TicketCodec(TICKET_SECRET);

/** curl with a JSON body (and a bearer token when given). */
function post(route: string, body: unknown, token?: string) {
  return curl([
    '-X',
    'POST',
    '-H',
    'content-type: application/json',
    ...(token === undefined ? [] : ['-H', `authorization: Bearer ${token}`]),
    '-d',
    JSON.stringify(body),
    `${t.base}${route}`,
  ]);
}
const get = (route: string, token: string) =>
  curl(['-H', `authorization: Bearer ${token}`, `${t.base}${route}`]);

async function signIn(userName: string, password = PASSWORD, applicationId = 1000) {
  const res = await post('/api/v1/sessions/open-immutable', { userName, password, applicationId });
  assert.equal(res.status, 201, res.body);
  return res.json<{ sessionId: string; token: string; userId: number; position: number }>();
}

async function userCount(): Promise<number> {
  const { pool } = t.database.open({ max: 1 });
  return Number((await pool.query("SELECT count(*) AS n FROM events WHERE type = 'UserCreated'")).rows[0].n);
}

before(async () => {
  t = await startTestSluice({ env: { MFT_ADMIN_EMAIL: ADMIN_EMAIL } });
  const opened = await signIn('admin', ADMIN_PASSWORD, 1);
  admin = opened.token;
  adminOpened = opened.position;
  assert.equal(
    (await post('/api/v1/applications', { applicationId: 1000, name: 'Portal' }, admin)).status,
    201,
  );
  for (const [userName, rights] of [
    ['audrey', ['auditor']],
    ['svc', ['impersonate']],
    ['victim', []],
  ] as const) {
    const res = await post(
      '/api/v1/users',
      { userName, emailAddress: `${userName}@example.com`, password: PASSWORD, rights },
      admin,
    );
    assert.equal(res.status, 201, res.body);
  }
});

after(() => t.stop());

describe('attacks that once worked', () => {
  it('1. an auditor lists the admin’s open session and uses its id as a bearer: refused', async () => {
    const auditor = await signIn('audrey');
    const listed = await get(
      `/api/v1/sessions?userId=1&state=open&minPosition=${adminOpened}`,
      auditor.token,
    );
    assert.equal(listed.status, 200, listed.body);
    const adminSessionId = listed.json<{ items: Array<{ sessionId: string }> }>().items[0]?.sessionId;
    assert.ok(adminSessionId, 'the auditor sees the admin’s session id');
    assert.ok(!listed.body.includes(admin.slice('sluice_'.length)), 'but never its token');
    const before = await userCount();
    const created = await post(
      '/api/v1/users',
      { userName: 'mallory', emailAddress: 'm@example.com', password: PASSWORD, rights: ['admin'] },
      adminSessionId,
    );
    assert.equal(created.status, 401);
    assert.equal(created.json<{ type: string }>().type, '/problems/session-unknown');
    assert.equal(await userCount(), before, 'no user was created');
    const me = await get('/api/v1/sessions/current', auditor.token);
    assert.equal(me.json<{ impersonator: unknown; token?: string }>().token, undefined);
  });

  it('2. anyone who knows a session id closes it: refused, and the session lives on', async () => {
    const victim = await signIn('victim');
    const auditor = await signIn('audrey');
    const anonymous = await post('/api/v1/sessions/close', { sessionId: victim.sessionId });
    assert.equal(anonymous.status, 401);
    const byOther = await post('/api/v1/sessions/close', { sessionId: victim.sessionId }, auditor.token);
    assert.equal(byOther.status, 403);
    assert.equal((await get('/api/v1/sessions/current', victim.token)).status, 200);
  });

  it('3. an impersonate user becomes admin by impersonation: refused', async () => {
    const service = await signIn('svc');
    const res = await post(
      '/api/v1/sessions/open-immutable-impersonate',
      { userId: 1, applicationId: 1000, ipAddress: '203.0.113.9' },
      service.token,
    );
    assert.equal(res.status, 403);
    assert.equal(res.json<{ type: string }>().type, '/problems/target-privileged');
    const viaUserString = await post(
      '/api/v1/sessions/open-immutable-user-string',
      { userId: 1, applicationId: 1000, ipAddress: '203.0.113.9', userString: 'x' },
      service.token,
    );
    assert.equal(viaUserString.status, 403);
  });

  it('4. any valid ticket plus the admin’s e-mail signs in as admin: refused', async () => {
    const me = await get('/api/v1/users/1', admin);
    assert.equal(
      me.json<{ emailAddress: string }>().emailAddress,
      ADMIN_EMAIL,
      'the admin’s e-mail is configured',
    );
    const someTicket = tickets.mint({
      applicationId: 1000,
      subject: { kind: 'email', emailAddress: 'partner@example.com', firstName: 'P', lastName: 'Q' },
      timestamp: t.clock.now(),
    });
    const swapped = await post('/api/v1/sessions/open-with-ticket-ex', {
      ticket: someTicket,
      emailAddress: ADMIN_EMAIL,
      firstName: 'P',
      lastName: 'Q',
      applicationId: 1000,
      clientVersion: 'attack',
    });
    assert.equal(swapped.status, 401);
    assert.equal(swapped.json<{ type: string }>().type, '/problems/ticket-mismatch');
    // Even a ticket sealed for the admin's address does not reach a privileged user.
    const sealed = tickets.mint({
      applicationId: 1000,
      subject: { kind: 'email', emailAddress: ADMIN_EMAIL, firstName: 'Sluice', lastName: 'Administrator' },
      timestamp: t.clock.now(),
    });
    const privileged = await post('/api/v1/sessions/open-with-ticket-ex', {
      ticket: sealed,
      emailAddress: ADMIN_EMAIL,
      firstName: 'Sluice',
      lastName: 'Administrator',
      applicationId: 1000,
      clientVersion: 'attack',
    });
    assert.equal(privileged.status, 401);
    assert.equal(privileged.json<{ type: string }>().type, '/problems/invalid-credentials');
  });
});
