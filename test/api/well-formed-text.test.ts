/**
 * Issue 14's reproductions with real clients: text that is not well-formed (a lone
 * surrogate, a control character) is refused with a 400 before anything happens over HTTP
 * (curl), and an SSH client whose ident or user name holds control characters (paramiko,
 * ssh2's client) is still recorded, attempt by attempt, in an escaped form.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { curl } from '../support/curl.js';
import { paramiko } from '../support/sftp-clients.js';
import { adminSession, call, startTestSluice, type TestSluice } from '../support/sluice.js';

let t: TestSluice;
let work: string;
const PASSWORD = 'text-test-password';

async function events(type: string): Promise<Array<{ data: Record<string, unknown> }>> {
  const { pool } = t.database.open({ max: 1 });
  return (await pool.query('SELECT data FROM events WHERE type = $1 ORDER BY global_position', [type])).rows;
}

/** A JSON body written by hand, so `\ud800` reaches the server as the JSON escape a client sends. */
function signInBody(userName: string, password: string, clientVersion: string): string {
  return `{"userName":"${userName}","password":"${password}","applicationId":2,"clientVersion":"${clientVersion}"}`;
}

async function signIn(body: string) {
  return curl([
    '-X',
    'POST',
    '-H',
    'content-type: application/json',
    '--data-binary',
    body,
    `${t.base}/api/v1/sessions/open-immutable`,
  ]);
}

before(async () => {
  t = await startTestSluice();
  work = await mkdtemp(path.join(os.tmpdir(), 'sluice-text-'));
  const admin = await adminSession(t.base);
  for (const userName of ['alice', 'sam']) {
    const res = await call(t.base, 'POST', '/api/v1/users', {
      token: admin,
      body: { userName, emailAddress: `${userName}@example.com`, password: PASSWORD },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }
});

after(async () => {
  await t.stop();
  await rm(work, { recursive: true, force: true });
});

describe('HTTP with curl', () => {
  it('a sign-in whose clientVersion holds a lone surrogate is a 400, right or wrong password, and signs nobody in', async () => {
    const opened = (await events('SessionOpened')).length;
    const failed = (await events('SignInFailed')).length;
    for (const password of ['wrong-password', PASSWORD]) {
      const res = await signIn(signInBody('alice', password, '\\ud800'));
      assert.equal(res.status, 400, res.body);
      assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/);
      assert.equal(res.json<{ type: string }>().type, '/problems/validation');
    }
    const control = await signIn(signInBody('alice', PASSWORD, 'x\\u007f'));
    assert.equal(control.status, 400, control.body);
    assert.equal((await events('SessionOpened')).length, opened, 'nobody signed in');
    assert.equal((await events('SignInFailed')).length, failed, 'a malformed request is no attempt');
    // The same client with a well-formed (astral) clientVersion signs in, and is recorded.
    const ok = await signIn(signInBody('alice', PASSWORD, '\\ud83d\\ude00 portal'));
    assert.equal(ok.status, 201, ok.body);
    const last = (await events('SessionOpened')).at(-1);
    assert.equal(last?.data.clientVersion, '😀 portal');
  });

  it('a move to a name with a lone surrogate is a 400 and the file stays where it was', async () => {
    const res = await signIn(signInBody('sam', PASSWORD, 'tests'));
    assert.equal(res.status, 201, res.body);
    const token = res.json<{ token: string }>().token;
    const auth = ['-H', `authorization: Bearer ${token}`];
    await writeFile(path.join(work, 'a.txt'), 'stay');
    const up = await curl([...auth, '-T', path.join(work, 'a.txt'), `${t.base}/api/v1/files/a.txt`]);
    assert.equal(up.status, 201, up.body);
    const renamed = (await events('FileRenamed')).length;
    const move = await curl([
      ...auth,
      '-X',
      'POST',
      '-H',
      'content-type: application/json',
      '--data-binary',
      '{"from":"/a.txt","to":"/b\\ud800.txt"}',
      `${t.base}/api/v1/moves`,
    ]);
    assert.equal(move.status, 400, move.body);
    assert.equal(move.json<{ type: string }>().type, '/problems/validation');
    assert.ok(existsSync(path.join(t.dataDir, 'files', 'sam', 'a.txt')), 'not renamed on disk');
    assert.equal((await events('FileRenamed')).length, renamed);

    // Control characters and UTF-8-encoded surrogates in the URL path: 400, nothing written.
    for (const name of ['c%01.txt', 'd%7F.txt', 'e%C2%85.txt', 'f%ED%A0%80.txt']) {
      const put = await curl([...auth, '-T', path.join(work, 'a.txt'), `${t.base}/api/v1/files/${name}`]);
      assert.equal(put.status, 400, `${name}: ${put.body}`);
      const folder = await curl([...auth, '-X', 'POST', `${t.base}/api/v1/folders/${name}`]);
      assert.equal(folder.status, 400, `${name}: ${folder.body}`);
    }
    assert.deepEqual(
      (await events('FileUploaded')).map((e) => e.data.path).filter((p) => p !== '/a.txt'),
      [],
    );
  });
});

/** paramiko with its own ident: one password (argv[6]), then a listing when signed in. */
const PARAMIKO_SCRIPT = `
import sys, socket, paramiko
host, port, user, password, ident = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
t = paramiko.Transport(socket.create_connection((host, port)))
t.local_version = ident
t.start_client(timeout=30)
try:
    t.auth_password(user, password)
    s = paramiko.SFTPClient.from_transport(t)
    print('signed-in', s.listdir('.') is not None)
except paramiko.AuthenticationException:
    print('refused')
t.close()
`;

/**
 * ssh2's client (paramiko asks for the ssh-userauth service again before each retry, which
 * ssh2 servers refuse after two): one connection, password after password, until the cut.
 */
async function guess(
  ident: string,
  userName: string,
  attempts: number,
): Promise<{ tried: number; error: string }> {
  let tried = 0;
  const client = new ssh2.Client();
  const ended = new Promise<string>((resolve) => {
    client.on('error', (error: Error) => resolve(error.message));
    client.on('ready', () => resolve('signed in'));
    client.on('close', () => resolve('closed'));
  });
  client.connect({
    host: '127.0.0.1',
    port: t.sluice.sftpPort,
    username: userName,
    ident,
    readyTimeout: 60_000,
    authHandler: (_methods, _partial, next) => {
      if (tried >= attempts) return next(false as unknown as ssh2.AuthenticationType);
      tried++;
      return next({ type: 'password', username: userName, password: `guess-${tried}` });
    },
  });
  const error = await ended;
  client.end();
  return { tried, error };
}

describe('SSH clients', () => {
  it('paramiko with an ident holding DEL: the wrong password is a SignInFailed, the right one a session, both with the ident escaped', async () => {
    const before = (await events('SignInFailed')).length;
    // One attempt per connection: paramiko asks for ssh-userauth again before a retry,
    // which ssh2's server answers by disconnecting.
    const wrong = await paramiko(
      PARAMIKO_SCRIPT,
      t.sluice.sftpPort,
      'alice',
      'wrong-password',
      'SSH-2.0-x\x7f',
    );
    assert.equal(wrong.code, 0, wrong.stderr);
    assert.equal(wrong.stdout.trim(), 'refused');
    const right = await paramiko(PARAMIKO_SCRIPT, t.sluice.sftpPort, 'alice', PASSWORD, 'SSH-2.0-x\x7f');
    assert.equal(right.code, 0, right.stderr);
    assert.equal(right.stdout.trim(), 'signed-in True');
    const failures = (await events('SignInFailed')).slice(before);
    assert.equal(failures.length, 1);
    assert.equal(failures[0]?.data.clientVersion, 'SSH-2.0-x\\x7f');
    assert.equal(failures[0]?.data.reason, 'invalid-credentials');
    const session = (await events('SessionOpened')).at(-1);
    assert.equal(session?.data.clientVersion, 'SSH-2.0-x\\x7f');
    const connection = (await events('ConnectionOpened')).at(-1);
    assert.equal(connection?.data.clientSoftware, 'SSH-2.0-x\\x7f');
  });

  it('password guesses under a name and ident with control characters are each recorded and counted until the cut', async () => {
    const before = (await events('SignInFailed')).length;
    const { tried, error } = await guess('guesser\x01\x1b', 'al\x01ice', 50);
    assert.equal(tried, 6, `the sixth failure ends the connection (${error})`);
    assert.notEqual(error, 'signed in');
    const failures = (await events('SignInFailed')).slice(before);
    assert.equal(failures.length, 6, 'every attempt recorded');
    for (const f of failures) {
      assert.equal(f.data.userName, 'al\\x01ice');
      assert.equal(f.data.reason, 'unknown-user');
      assert.equal(f.data.clientVersion, 'SSH-2.0-guesser\\x01\\x1b');
    }
  });
});
