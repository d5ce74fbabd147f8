/**
 * Issue 13 item 6: taking away a right, changing permissions or a password, takes effect at once
 * on what is already open: an SSE audit stream (curl) ends, SFTP connections (paramiko) are cut,
 * HTTP tokens opened before a password change stop working; replaceable sessions may be given
 * a lifetime (MFT_SESSION_LIFETIME_SECONDS).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { paramikoUntilCut } from '../support/sftp-clients.js';
import { adminSession, call, startTestSluice, type TestSluice } from '../support/sluice.js';

const PASSWORD = 'live-reauth-password';
let t: TestSluice;
let admin: string;
const ids: Record<string, number> = {};

type Opened = { sessionId: string; token: string; position: number };
type Problem = { type: string };

async function createUser(userName: string, extra: Record<string, unknown>): Promise<number> {
  const res = await call<{ userId: number }>(t.base, 'POST', '/api/v1/users', {
    token: admin,
    body: { userName, emailAddress: `${userName}@example.com`, password: PASSWORD, ...extra },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  ids[userName] = res.body.userId;
  return res.body.userId;
}

const signIn = async (userName: string, applicationId = 1000, password = PASSWORD) => {
  const res = await call<Opened>(t.base, 'POST', '/api/v1/sessions/open', {
    body: { userName, password, applicationId, clientVersion: 'reauth' },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
};

const patch = async (userName: string, body: Record<string, unknown>) => {
  const res = await call(t.base, 'PATCH', `/api/v1/users/${ids[userName]}`, { token: admin, body });
  assert.equal(res.status, 200, JSON.stringify(res.body));
};

async function events(type: string): Promise<Array<{ data: Record<string, unknown> }>> {
  const { pool } = t.database.open({ max: 1 });
  return (await pool.query('SELECT data FROM events WHERE type = $1 ORDER BY global_position', [type])).rows;
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`never happened: ${what}`);
}

before(async () => {
  t = await startTestSluice({ env: { MFT_SESSION_LIFETIME_SECONDS: '3600' } });
  admin = await adminSession(t.base);
  const app = await call(t.base, 'POST', '/api/v1/applications', {
    token: admin,
    body: { applicationId: 1000, name: 'Reauth portal' },
  });
  assert.equal(app.status, 201);
  await createUser('auditor', { rights: ['auditor'] });
  await createUser('sftpuser', { permissions: [{ path: '/', permissions: ['list', 'download', 'upload'] }] });
  await createUser('httpuser', {});
});

after(() => t.stop());

describe('open things follow changes at once', () => {
  it('an auditor’s SSE stream (curl) ends when the auditor right is taken away', async () => {
    const auditor = await signIn('auditor');
    const curl = spawn('curl', [
      '-sN',
      '-D',
      '-',
      '-H',
      `authorization: Bearer ${auditor.token}`,
      `${t.base}/api/v1/audit/stream`,
    ]);
    let out = '';
    curl.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => curl.on('exit', (code) => resolve(code)));
    // A hang guard only: without the change, the stream never ends by itself.
    const guard = setTimeout(() => curl.kill('SIGKILL'), 60_000);
    try {
      await until(async () => out.includes('200'), 'the stream is open');
      await patch('auditor', { rights: [] });
      const code = await exited;
      assert.equal(code, 0, 'the server ended the stream (curl was not killed)');
    } finally {
      clearTimeout(guard);
      curl.kill('SIGKILL');
    }
    const own = await call<{ items: Array<{ userId: number | null }> }>(
      t.base,
      'GET',
      '/api/v1/audit/events',
      {
        token: auditor.token,
      },
    );
    assert.equal(own.status, 200);
    assert.ok(
      own.body.items.every((i) => i.userId === ids.auditor),
      'and the next query sees only the user’s own events',
    );
  });

  for (const [change, body] of [
    ['permissions', { permissions: [{ path: '/', permissions: ['list'] }] }],
    ['password', { password: 'a new password 2' }],
  ] as const) {
    it(`an open SFTP connection (paramiko) is cut when the user’s ${change} change`, async () => {
      const client = paramikoUntilCut(t.sluice.sftpPort, 'sftpuser', PASSWORD, 60);
      await client.connected();
      await patch('sftpuser', body);
      const result = await client.result;
      assert.match(result.stdout, /connected\ncut/);
      const closed = (await events('ConnectionClosed')).map((e) => e.data.reason);
      assert.ok(closed.includes(change === 'password' ? 'password changed' : 'user changed'), closed.join());
    });
  }

  it('HTTP tokens opened before a password change stop working; new sign-ins work', async () => {
    const before = await signIn('httpuser', 1000);
    const other = (
      await call<Opened>(t.base, 'POST', '/api/v1/sessions/open-immutable', {
        body: { userName: 'httpuser', password: PASSWORD, applicationId: 2 },
      })
    ).body;
    assert.equal(
      (await call(t.base, 'GET', '/api/v1/sessions/current', { token: before.token })).status,
      200,
    );
    await patch('httpuser', { password: 'the changed password' });
    for (const token of [before.token, other.token]) {
      const res = await call<Problem>(t.base, 'GET', '/api/v1/sessions/current', { token });
      assert.equal(res.status, 401);
      assert.equal(res.body.type, '/problems/credentials-changed');
    }
    const after = await signIn('httpuser', 1000, 'the changed password');
    assert.equal((await call(t.base, 'GET', '/api/v1/sessions/current', { token: after.token })).status, 200);
  });

  it('replaceable sessions end after MFT_SESSION_LIFETIME_SECONDS, recorded as expired', async () => {
    const session = await signIn('auditor', 1000);
    const me = await call<{ expiresAt: string | null }>(t.base, 'GET', '/api/v1/sessions/current', {
      token: session.token,
    });
    assert.equal(me.status, 200);
    assert.ok(me.body.expiresAt, 'the lifetime is on the session');
    assert.ok(await t.sluice.runner.waitForPosition(session.position, 10_000));
    t.clock.advance(3600_000 + 1000);
    const expired = await call<Problem>(t.base, 'GET', '/api/v1/sessions/current', { token: session.token });
    assert.equal(expired.status, 401);
    assert.equal(expired.body.type, '/problems/session-expired');
    assert.ok((await t.sluice.expiry.runOnce()) >= 1);
    assert.ok((await events('SessionExpired')).some((e) => e.data.sessionId === session.sessionId));
  });
});
