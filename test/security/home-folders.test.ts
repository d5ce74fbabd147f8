/**
 * Home folders are never derived from raw names. Attacks reproduced against a live server:
 * a user named `..` got MFT_DATA_DIR as its home; an e-mail address holding `/` (OpenWithTicketEx
 * names new users by address) put a new user's home inside another user's folder. Now the API
 * refuses such names, and a user stored before the rule (written straight into the log here, as
 * an older version could have) reaches no file over SFTP or HTTP, each refusal recorded.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { AppendNotifier } from '../../src/adapters/eventstore/postgres/append-notifier.js';
import { PostgresEventStore } from '../../src/adapters/eventstore/postgres/postgres-event-store.js';
import { parsePublicKey } from '../../src/adapters/ssh/public-keys.js';
import { type DomainEvent, toNewEvent } from '../../src/domain/events/catalogue.js';
import { curl } from '../support/curl.js';
import { openSshBatch } from '../support/sftp-clients.js';
import {
  adminSession,
  call,
  createUser,
  registerApplication,
  startTestSluice,
  type TestSluice,
  TICKET_SECRET,
} from '../support/sluice.js';

const run = promisify(execFile);
let t: TestSluice;
let admin: string;
let work: string;
let keyFile: string;
let store: PostgresEventStore;
let bobId: number;
const PASSWORD = 'home-folder-password';

/** paramiko signed in by key: OPENDIR, OPEN+READ and STAT, each answered DENIED or ALLOWED. */
const PARAMIKO_PROBE = `
import sys, paramiko
host, port, user, key = sys.argv[1:5]
t = paramiko.Transport((host, int(port)))
t.connect(username=user, pkey=paramiko.Ed25519Key.from_private_key_file(key))
s = paramiko.SFTPClient.from_transport(t)
for name, op in (('listdir /', lambda: s.listdir('/')), ('read /pg-password', lambda: s.open('/pg-password').read()), ('stat /pg-password', lambda: s.stat('/pg-password'))):
    try:
        op()
        print(name, 'ALLOWED')
    except PermissionError:
        print(name, 'DENIED')
t.close()
`;

async function rows(sql: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  const { pool } = t.database.open({ max: 1 });
  try {
    return (await pool.query(sql, params)).rows;
  } finally {
    await pool.end();
  }
}

const countEvents = async (type: string) =>
  Number((await rows('SELECT count(*) AS n FROM events WHERE type = $1', [type]))[0]!.n);

const denials = (reasonPart: string) =>
  rows(
    "SELECT data FROM events WHERE type = 'AccessDenied' AND data->>'reason' LIKE $1 ORDER BY global_position",
    [`%${reasonPart}%`],
  );

function curlJson(method: string, route: string, body: unknown, token?: string) {
  return curl([
    '-X',
    method,
    '-H',
    'content-type: application/json',
    ...(token ? ['-H', `authorization: Bearer ${token}`] : []),
    '--data-binary',
    JSON.stringify(body),
    `${t.base}${route}`,
  ]);
}

/** A ticket from the Python example for application 1000: `[userName]` or `['--email', address, first, last]`. */
async function mintTicket(...subject: string[]): Promise<string> {
  const { stdout } = await run('/usr/bin/python3', ['docs/examples/mint_ticket.py', '1000', ...subject], {
    env: { ...process.env, MFT_TICKET_SECRET: TICKET_SECRET },
  });
  return stdout.trim();
}

/** A user as an older Sluice could have stored it: reservation, UserCreated and a key, straight into the log. */
async function storeLegacyUser(userId: number, userName: string, homeFolder: string): Promise<void> {
  const metadata = { envelopeVersion: 1 as const, correlationId: crypto.randomUUID(), actor: {} };
  const append = (stream: string, events: DomainEvent[]) =>
    store.appendToStream(
      stream,
      events.map((e) => toNewEvent(e, metadata)),
      { expectedRevision: 'no_stream' },
    );
  await append(`user-name-${userName.toLowerCase()}`, [
    { type: 'UniqueValueReserved', data: { scope: 'userName', value: userName.toLowerCase(), userId } },
  ]);
  const key = parsePublicKey(await readFile(`${keyFile}.pub`, 'utf8'));
  await append(`user-${userId}`, [
    {
      type: 'UserCreated',
      data: {
        userId,
        userName,
        emailAddress: `legacy${userId}@example.com`,
        firstName: '',
        lastName: '',
        enabled: true,
        rights: [],
        homeFolder,
        permissions: [],
        createdBy: { kind: 'bootstrap' },
        credentialVersion: null,
      },
    },
    { type: 'UserKeyAdded', data: { userId, ...key, changedBy: userId } },
  ]);
}

before(async () => {
  t = await startTestSluice();
  admin = await adminSession(t.base);
  work = await mkdtemp(path.join(os.tmpdir(), 'sluice-homes-'));
  keyFile = path.join(work, 'id');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
  const { db } = t.database.open({ max: 2 });
  store = new PostgresEventStore({ db, notifier: new AppendNotifier(t.database.url) });
  await registerApplication(t.base, admin, 1000, 'SSO portal');
  bobId = await createUser(t.base, admin, {
    userName: 'bob',
    emailAddress: 'bob@example.com',
    password: PASSWORD,
  });
  // What sits above and beside the homes: a secret in MFT_DATA_DIR, and bob's own files.
  await writeFile(path.join(t.dataDir, 'pg-password'), 'the database password');
  await mkdir(path.join(t.dataDir, 'files', 'bob'), { recursive: true });
  await writeFile(path.join(t.dataDir, 'files', 'bob', 'bob-private.txt'), 'bob only');
});

after(async () => {
  await store.close();
  await t.stop();
  await rm(work, { recursive: true, force: true });
});

describe('user names (HTTP users API, curl)', () => {
  it('refuses ".", ".." and names with separators or control characters, recording nothing', async () => {
    const allocated = await countEvents('UserIdAllocated');
    for (const [i, userName] of ['..', '.', 'a/b', 'a\\b', 'tab\there', 'x'.repeat(65)].entries()) {
      const res = await curlJson(
        'POST',
        '/api/v1/users',
        { userName, emailAddress: `n${i}@example.com` },
        admin,
      );
      assert.equal(res.status, 400, `${JSON.stringify(userName)}: ${res.body}`);
      assert.match(res.body, /userName/);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
    }
    assert.equal(await countEvents('UserIdAllocated'), allocated, 'no id was taken for a refused name');
    // Names with dots elsewhere are fine; the home is the name, lower case, one level down.
    const ok = await curlJson(
      'POST',
      '/api/v1/users',
      { userName: 'J.Doe..x', emailAddress: 'jd@example.com' },
      admin,
    );
    assert.equal(ok.status, 201, ok.body);
    assert.equal(ok.json<{ homeFolder: string }>().homeFolder, '/j.doe..x');
  });

  it('refuses home folders that climb, hold empty or dot segments or backslashes (create and PATCH)', async () => {
    for (const homeFolder of ['/..', '/a/../..', '/a//b', '/a/./b', 'relative', '/a\\..\\..']) {
      const res = await curlJson(
        'POST',
        '/api/v1/users',
        { userName: 'homeless', emailAddress: 'homeless@example.com', homeFolder },
        admin,
      );
      assert.equal(res.status, 400, `${homeFolder}: ${res.body}`);
    }
    const patched = await curlJson('PATCH', `/api/v1/users/${bobId}`, { homeFolder: '/../..' }, admin);
    assert.equal(patched.status, 400, patched.body);
    const bob = await curl(['-H', `authorization: Bearer ${admin}`, `${t.base}/api/v1/users/${bobId}`]);
    assert.equal(bob.json<{ homeFolder: string }>().homeFolder, '/bob');
  });

  it('OpenWithTicketEx refuses an e-mail address holding "/" as a new user name: no home inside bob’s folder', async () => {
    const res = await curlJson('POST', '/api/v1/sessions/open-with-ticket-ex', {
      ticket: await mintTicket('--email', 'bob/x@example.com', 'Mal', 'Lory'),
      emailAddress: 'bob/x@example.com',
      firstName: 'Mal',
      lastName: 'Lory',
      applicationId: 1000,
      clientVersion: 'sso',
    });
    assert.equal(res.status, 400, res.body);
    assert.equal(res.json<{ type: string }>().type, '/problems/invalid-user-name');
    const users = await call<{ items: Array<{ userName: string }> }>(
      t.base,
      'GET',
      '/api/v1/users?limit=100',
      {
        token: admin,
      },
    );
    assert.ok(!users.body.items.some((u) => u.userName.includes('/')), 'no user was created');
    assert.ok(!existsSync(path.join(t.dataDir, 'files', 'bob', 'x@example.com')));
    // An ordinary address still signs in and gets a home of its own.
    const fine = await curlJson('POST', '/api/v1/sessions/open-with-ticket-ex', {
      ticket: await mintTicket('--email', 'carol@example.com', 'Carol', 'C'),
      emailAddress: 'carol@example.com',
      firstName: 'Carol',
      lastName: 'C',
      applicationId: 1000,
      clientVersion: 'sso',
    });
    assert.equal(fine.status, 201, fine.body);
  });
});

describe('users stored before the rule (legacy log)', () => {
  it('a user named ".." (home "/..") lists and reads nothing over SFTP; each refusal is recorded', async () => {
    await storeLegacyUser(9001, '..', '/..');
    const result = await openSshBatch(t.sluice.sftpPort, '..', { identityFile: keyFile }, [
      '-ls /',
      `-get /pg-password ${path.join(work, 'stolen')}`,
      '-ls /files/bob',
    ]);
    const shown = result.stdout.split('\n').filter((line) => !line.startsWith('sftp>') && line.trim() !== '');
    assert.deepEqual(shown, [], 'no listing of MFT_DATA_DIR (pg-password, host keys, files)');
    assert.ok(!existsSync(path.join(work, 'stolen')), 'nothing was downloaded');
    assert.match(result.stderr, /not found|Permission denied/, JSON.stringify(result));
    // paramiko asks directly (OPENDIR, OPEN, STAT), without OpenSSH's glob STAT first.
    const direct = await run('/usr/bin/python3', [
      '-c',
      PARAMIKO_PROBE,
      '127.0.0.1',
      String(t.sluice.sftpPort),
      '..',
      keyFile,
    ]);
    assert.equal(direct.stdout, 'listdir / DENIED\nread /pg-password DENIED\nstat /pg-password DENIED\n');
    const refused = (await denials('user name is not safe')).map((r) => r.data as { operation: string });
    for (const operation of ['list', 'download', 'stat'])
      assert.ok(
        refused.some((r) => r.operation === operation),
        `a ${operation} denial is recorded`,
      );
  });

  it('a user named by an address holding "/" reaches nothing of bob’s, over SFTP or HTTP', async () => {
    await storeLegacyUser(9002, 'bob/y@example.com', '/bob/y@example.com');
    const sftp = await openSshBatch(t.sluice.sftpPort, 'bob/y@example.com', { identityFile: keyFile }, [
      '-ls /',
      '-put /etc/hostname /planted.txt',
      `-get ../bob-private.txt ${path.join(work, 'bob-stolen')}`,
    ]);
    assert.ok(!existsSync(path.join(work, 'bob-stolen')), sftp.stdout);
    assert.ok(!existsSync(path.join(t.dataDir, 'files', 'bob', 'y@example.com', 'planted.txt')));
    const opened = await curlJson('POST', '/api/v1/sessions/open-with-ticket', {
      ticket: await mintTicket('bob/y@example.com'),
      applicationId: 1000,
      clientVersion: 'sso',
    });
    assert.equal(opened.status, 201, opened.body);
    const token = opened.json<{ token: string }>().token;
    const listing = await curl(['-H', `authorization: Bearer ${token}`, `${t.base}/api/v1/folders/`]);
    assert.equal(listing.status, 403, listing.body);
    const upload = await curl([
      '-X',
      'PUT',
      '-H',
      `authorization: Bearer ${token}`,
      '--data-binary',
      'planted',
      `${t.base}/api/v1/files/planted.txt`,
    ]);
    assert.equal(upload.status, 403, upload.body);
    assert.ok(!existsSync(path.join(t.dataDir, 'files', 'bob', 'y@example.com', 'planted.txt')));
    const refused = (await denials('user name is not safe')).map(
      (r) => r.data as { protocol: string; operation: string },
    );
    assert.ok(refused.some((r) => r.protocol === 'sftp' && r.operation === 'upload'));
    assert.ok(refused.some((r) => r.protocol === 'http' && r.operation === 'list'));
    assert.ok(refused.some((r) => r.protocol === 'http' && r.operation === 'upload'));
  });
});
