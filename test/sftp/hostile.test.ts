/**
 * What SFTP must refuse, and what it must survive: traversal, links out of the jail, NUL
 * bytes, missing permissions, clients killed mid-upload, and sessions closed through the API.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSshBatch, paramiko, paramikoUntilCut } from '../support/sftp-clients.js';
import { adminSession, call, startTestSluice, type TestSluice } from '../support/sluice.js';

let t: TestSluice;
let admin: string;
let work: string;
let port: number;
const PASSWORD = 'hostile-test-password';

async function events(
  type: string,
): Promise<Array<{ data: Record<string, unknown>; metadata: { actor: Record<string, unknown> } }>> {
  const { pool } = t.database.open({ max: 1 });
  return (
    await pool.query('SELECT data, metadata FROM events WHERE type = $1 ORDER BY global_position', [type])
  ).rows;
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`never happened: ${what}`);
}

before(async () => {
  t = await startTestSluice();
  port = t.sluice.sftpPort;
  admin = await adminSession(t.base);
  work = await mkdtemp(path.join(os.tmpdir(), 'sluice-hostile-'));
  for (const [userName, permissions] of [
    ['eve', []],
    [
      'reader',
      [
        { path: '/', permissions: ['list', 'download'] },
        { path: '/drop', permissions: ['list', 'upload'] },
      ],
    ],
    ['mallory', []],
  ] as const) {
    const res = await call(t.base, 'POST', '/api/v1/users', {
      token: admin,
      body: { userName, emailAddress: `${userName}@example.com`, password: PASSWORD, permissions },
    });
    assert.equal(res.status, 201);
  }
  // A secret outside every home, and a link an operator left pointing at it.
  await writeFile(path.join(t.dataDir, 'files', 'outside-secret.txt'), 'top secret');
  await mkdir(path.join(t.dataDir, 'files', 'eve'), { recursive: true });
  await symlink(
    path.join(t.dataDir, 'files', 'outside-secret.txt'),
    path.join(t.dataDir, 'files', 'eve', 'escape'),
  );
  await mkdir(path.join(t.dataDir, 'files', 'reader', 'drop'), { recursive: true });
  await writeFile(path.join(t.dataDir, 'files', 'reader', 'readme.txt'), 'read me');
});

after(async () => {
  await t.stop();
  await rm(work, { recursive: true, force: true });
});

describe('the jail', () => {
  it('.. cannot climb out, absolute paths stay inside, links out of the home are refused', async () => {
    const result = await openSshBatch(port, 'eve', { password: PASSWORD }, [
      'pwd',
      '-cd ..',
      'pwd',
      `-get ../outside-secret.txt ${work}/a`,
      `-get ../../../../etc/passwd ${work}/b`,
      `-get /etc/passwd ${work}/c`,
      `-get escape ${work}/d`,
      `-put /etc/hostname ../planted.txt`,
      '-symlink /etc/passwd mylink',
      '-ln /etc/passwd hardlink',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Remote working directory: \/\n/);
    for (const file of ['a', 'b', 'c', 'd'])
      assert.equal(existsSync(path.join(work, file)), false, `${file} was not fetched`);
    assert.equal(existsSync(path.join(t.dataDir, 'files', 'planted.txt')), false);
    assert.equal(
      existsSync(path.join(t.dataDir, 'files', 'eve', 'mylink')),
      false,
      'no symbolic link created',
    );
    const denials = (await events('AccessDenied')).map((e) => e.data);
    assert.ok(
      denials.some((d) => String(d.reason).includes('climbs above the root')),
      JSON.stringify(denials),
    );
    assert.ok(
      denials.some((d) => d.path === '/escape' && String(d.reason).includes('outside')),
      'the link out is recorded',
    );
  });

  it('refuses NUL bytes in paths without crashing the connection', async () => {
    const script = `
import sys, paramiko
t = paramiko.Transport((sys.argv[1], int(sys.argv[2])))
t.connect(username=sys.argv[3], password=sys.argv[4])
s = paramiko.SFTPClient.from_transport(t)
for p in ['a\\x00b', 'x' * 300, '/'.join(['d'] * 3000)]:
    try:
        s.stat(p)
        print('accepted')
    except IOError as e:
        print('refused')
print('alive', s.listdir('.') is not None)
`;
    const result = await paramiko(script, port, 'eve', PASSWORD);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.trim().split('\n'), ['refused', 'refused', 'refused', 'alive True']);
  });
});

describe('permissions', () => {
  it('a read-only user can list and download but not upload, delete, rename or mkdir; each denial is recorded', async () => {
    await writeFile(path.join(work, 'up.txt'), 'upload attempt');
    const result = await openSshBatch(port, 'reader', { password: PASSWORD }, [
      'ls',
      `get readme.txt ${work}/readme.txt`,
      `-put ${work}/up.txt up.txt`,
      '-rm readme.txt',
      '-rename readme.txt renamed.txt',
      '-mkdir newdir',
      `put ${work}/up.txt drop/up.txt`,
      `-put ${work}/up.txt drop/up.txt`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(existsSync(path.join(work, 'readme.txt')), true);
    const home = path.join(t.dataDir, 'files', 'reader');
    assert.deepEqual((await readdir(home)).sort(), ['drop', 'readme.txt']);
    assert.deepEqual(
      await readdir(path.join(home, 'drop')),
      ['up.txt'],
      'upload allowed in /drop, overwrite not',
    );
    const denials = (await events('AccessDenied'))
      .filter((e) => e.metadata.actor.userId !== undefined)
      .map((e) => `${e.data.operation} ${e.data.path}`);
    for (const denial of [
      'upload /up.txt',
      'delete /readme.txt',
      'rename /readme.txt',
      'mkdir /newdir',
      'overwrite /drop/up.txt',
    ]) {
      assert.ok(denials.includes(denial), `${denial} in ${JSON.stringify(denials)}`);
    }
  });
});

describe('interruptions', () => {
  it('a client killed mid-upload leaves no partial file, and UploadAborted is recorded', async () => {
    const size = 512 * 1024 * 1024;
    const big = path.join(work, 'huge.bin');
    await writeFile(big, randomBytes(1024 * 1024));
    // A sparse 512 MiB file: large enough to still be uploading when the client is killed.
    const handle = await (await import('node:fs/promises')).open(big, 'r+');
    await handle.truncate(size);
    await handle.close();
    const child = spawn(
      'sshpass',
      [
        '-p',
        PASSWORD,
        'sftp',
        '-o',
        'BatchMode=no',
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-P',
        String(port),
        '-b',
        '-',
        'mallory@127.0.0.1',
      ],
      { stdio: ['pipe', 'ignore', 'ignore'] },
    );
    child.stdin.end(`put ${big} huge.bin\n`);
    const staging = path.join(t.dataDir, 'uploads');
    await until(async () => (await readdir(staging)).some((f) => f.endsWith('.part')), 'the upload started');
    await new Promise((r) => setTimeout(r, 300));
    spawn('pkill', ['-KILL', '-f', `${port} -b - mallory@127.0.0.1`]);
    child.kill('SIGKILL');
    await until(
      async () => (await events('UploadAborted')).some((e) => e.data.path === '/huge.bin'),
      'UploadAborted recorded',
    );
    const aborted = (await events('UploadAborted')).find((e) => e.data.path === '/huge.bin');
    assert.ok(Number(aborted?.data.bytesReceived) > 0 && Number(aborted?.data.bytesReceived) < size);
    assert.equal(
      existsSync(path.join(t.dataDir, 'files', 'mallory', 'huge.bin')),
      false,
      'no partial file under the name',
    );
    assert.deepEqual(
      (await readdir(staging)).filter((f) => !f.startsWith('.')),
      [],
      'nothing left staged',
    );
    assert.equal(
      (await events('FileUploaded')).some((e) => e.data.path === '/huge.bin'),
      false,
    );
  });

  it('Close through the API cuts the session’s live SFTP connections', async () => {
    const before = (await events('ConnectionOpened')).length;
    const client = paramikoUntilCut(port, 'eve', PASSWORD, 10);
    await client.connected();
    let sessionId: string | undefined;
    await until(async () => {
      const opened = await events('ConnectionOpened');
      sessionId = opened.length > before ? (opened[opened.length - 1]?.data.sessionId as string) : undefined;
      return sessionId !== undefined;
    }, 'the connection is recorded');
    const closed = await call(t.base, 'POST', '/api/v1/sessions/close', {
      body: { sessionId },
      token: admin,
    });
    assert.equal(closed.status, 200);
    const result = await client.result;
    assert.match(result.stdout, /connected\ncut/);
    const closedEvents = await events('ConnectionClosed');
    assert.ok(closedEvents.some((e) => e.data.sessionId === sessionId && e.data.reason === 'session closed'));
  });
});
