/**
 * Deletes, renames, folders and times made through intents, with the real server process
 * killed (SIGKILL, from MFT_TEST_CRASH_AT) at each step: after the note, after the change on
 * disk, after its event. The next start on the same data dir and database settles the change,
 * and then disk, event log, files view and audit view agree: the change done and recorded, or
 * put back and recorded as undone. Clients: OpenSSH sftp, paramiko and curl.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CrashPoint } from '../../src/application/files/file-intents.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { makeDataDir, type ServerProcess, spawnServer } from '../support/server-process.js';
import { openSshBatch, paramiko } from '../support/sftp-clients.js';
import { ADMIN_PASSWORD, call } from '../support/sluice.js';

const PASSWORD = 'crash-test-password';
const CHANGE_TYPES = [
  'FileDeleted',
  'FileRenamed',
  'DirectoryCreated',
  'DirectoryRemoved',
  'FileAttributesChanged',
  'FileChangeUndone',
];

let database: TestDatabase;
let dataDir: string;
let server: ServerProcess | undefined;
let armedAt: CrashPoint | undefined;
let alice: string;
let aliceId: number;
let pool: ReturnType<TestDatabase['open']>['pool'];

/** A server armed to kill itself at `crashAt` (the running one when it already is). */
async function serverAt(crashAt?: CrashPoint): Promise<ServerProcess> {
  if (server && server.child.exitCode === null && server.child.signalCode === null && armedAt === crashAt)
    return server;
  if (server) await server.stop('SIGINT');
  server = await spawnServer({
    dataDir,
    env: {
      DATABASE_URL: database.url,
      MFT_ADMIN_PASSWORD: ADMIN_PASSWORD,
      MFT_DEFENDER_ALLOW: '127.0.0.1',
      ...(crashAt === undefined ? {} : { MFT_TEST_CRASH_AT: crashAt }),
    },
  });
  armedAt = crashAt;
  return server;
}

const sftpPort = (s: ServerProcess) => Number(s.env.MFT_SFTP_PORT);
const onDisk = (name: string) => path.join(dataDir, 'files', 'alice', name);
const read = (name: string) => readFile(onDisk(name), 'utf8');

async function head(): Promise<number> {
  const { rows } = await pool.query<{ p: string | null }>('SELECT max(global_position) AS p FROM events');
  return Number(rows[0]?.p ?? 0);
}

/** The file changes recorded after `position`, as `Type path[→to]`. */
async function changesSince(position: number): Promise<string[]> {
  const { rows } = await pool.query<{ type: string; data: Record<string, string> }>(
    'SELECT type, data FROM events WHERE global_position > $1 AND type = ANY($2) ORDER BY global_position',
    [position, CHANGE_TYPES],
  );
  return rows.map(({ type, data }) => {
    const what = data.path ?? `${data.from}→${data.to}`;
    return type === 'FileChangeUndone'
      ? `${type} ${data.operation} ${what}${data.to ? `→${data.to}` : ''}`
      : `${type} ${what}`;
  });
}

/** Waits until every projection has applied the whole log. */
async function viewsCaughtUp(): Promise<void> {
  const target = await head();
  for (let attempt = 0; attempt < 200; attempt++) {
    const { rows } = await pool.query<{ behind: string }>(
      'SELECT count(*) AS behind FROM projection_checkpoints WHERE position < $1',
      [target],
    );
    if (Number(rows[0]?.behind) === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the views did not catch up');
}

async function inFilesView(p: string): Promise<boolean> {
  const { rows } = await pool.query('SELECT 1 FROM files WHERE user_id = $1 AND path = $2', [aliceId, p]);
  return rows.length === 1;
}

/** The audit rows of file changes after `position`, as `operation outcome path`. */
async function auditSince(position: number): Promise<string[]> {
  const { rows } = await pool.query<{ operation: string; outcome: string; path: string }>(
    `SELECT operation, outcome, path FROM audit_events WHERE global_position > $1 AND event_type = ANY($2)
     ORDER BY global_position`,
    [position, CHANGE_TYPES],
  );
  return rows.map((r) => `${r.operation} ${r.outcome} ${r.path}`);
}

const done = (status: string) => /^2\d\d$/.test(status);
const batchDone = (result: { code: number | null }) => result.code === 0;

function curlStatus(args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      'curl',
      ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '60', ...args],
      (error, stdout, stderr) => resolve(error ? `failed: ${stderr.trim()}` : stdout),
    );
  });
}

const bearer = (token: string) => ['-H', `authorization: Bearer ${token}`];

/** Uploads `content` as alice with curl (body on standard input). */
async function upload(s: ServerProcess, name: string, content: string): Promise<void> {
  const status = await new Promise<string>((resolve) => {
    const child = execFile(
      'curl',
      [
        '-sS',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        ...bearer(alice),
        '-T',
        '-',
        `${s.baseUrl}/api/v1/files/${name}`,
      ],
      (error, stdout, stderr) => resolve(error ? `failed: ${stderr}` : stdout),
    );
    child.stdin?.end(content);
  });
  assert.match(status, /^20[01]$/, `upload of ${name}`);
}

/** paramiko sets a file's times (atime = mtime = the given seconds); prints `ok` or the error. */
function utime(s: ServerProcess, user: string, name: string, seconds: number) {
  const script = `
import sys, paramiko
t = paramiko.Transport((sys.argv[1], int(sys.argv[2])))
t.connect(username=sys.argv[3], password=sys.argv[4])
s = paramiko.SFTPClient.from_transport(t)
try:
    s.utime(sys.argv[5], (int(sys.argv[6]), int(sys.argv[6])))
    print('ok')
except Exception as e:
    print('refused', e)
`;
  return paramiko(script, sftpPort(s), user, PASSWORD, name, String(seconds));
}

const utimeDone = async (s: ServerProcess, name: string) =>
  (await utime(s, 'alice', name, 1_600_000_000)).stdout.trim() === 'ok';

/**
 * The crash points in the order the cases below run: each restart after a crash (which
 * settles it) is armed for the next case, so a case costs one start, not two.
 */
const CASES: CrashPoint[] = [
  'delete.after-intent',
  'delete.after-effect',
  'delete.after-intent',
  'delete.after-effect',
  'delete.after-event',
  'delete.after-event',
  'rename.after-intent',
  'rename.after-effect',
  'rename.after-event',
  'rename.after-intent',
  'rename.after-effect',
  'rename.after-event',
  'mkdir.after-effect',
  'rmdir.after-effect',
  'setstat.after-effect',
  'setstat.after-event',
];
let caseIndex = 0;

/**
 * Runs `act` (true when its client was told the change was made) on a server armed at `point`;
 * checks it died there; restarts; returns the log's position before.
 */
async function crashAt(point: CrashPoint, act: (s: ServerProcess) => Promise<boolean>): Promise<number> {
  caseIndex = CASES.indexOf(point, caseIndex);
  assert.notEqual(caseIndex, -1, `CASES lists ${point} in the order the cases run`);
  const next = CASES[++caseIndex];
  const s = await serverAt(point);
  const position = await head();
  assert.equal(await act(s), false, 'the client is not told the change was made');
  await s.exited;
  assert.equal(s.child.signalCode, 'SIGKILL', `the server killed itself at ${point}: ${s.stderr()}`);
  const restarted = await serverAt(next);
  assert.ok(
    restarted.lines.some((l) => l.includes('cut short by the last stop')),
    'the restart says what it settled',
  );
  await viewsCaughtUp();
  assert.deepEqual(await readdir(path.join(dataDir, 'intents')), [], 'no intent left');
  return position;
}

before(async () => {
  database = await createTestDatabase('crash');
  pool = database.open({ max: 2 }).pool;
  dataDir = await makeDataDir();
  const s = await serverAt();
  const admin = await call<{ token: string }>(s.baseUrl, 'POST', '/api/v1/sessions/open-immutable', {
    body: { userName: 'admin', password: ADMIN_PASSWORD, applicationId: 1 },
  });
  for (const [userName, extra] of [
    ['alice', {}],
    ['dropbox', { permissions: [{ path: '/', permissions: ['list', 'upload'] }] }],
  ] as const) {
    const created = await call<{ userId: number }>(s.baseUrl, 'POST', '/api/v1/users', {
      token: admin.body.token,
      body: { userName, emailAddress: `${userName}@example.com`, password: PASSWORD, ...extra },
    });
    assert.equal(created.status, 201);
    if (userName === 'alice') aliceId = created.body.userId;
  }
  const signIn = await call<{ token: string }>(s.baseUrl, 'POST', '/api/v1/sessions/open-immutable', {
    body: { userName: 'alice', password: PASSWORD, applicationId: 2 },
  });
  alice = signIn.body.token;
  for (const name of [
    'd1',
    'd2',
    'd3',
    'd4',
    'd5',
    'd6',
    'r1',
    'r2',
    'r2-target',
    'r3',
    'r4',
    'r5',
    'r5-target',
    'r6',
    's1',
  ])
    await upload(s, `${name}.txt`, `content of ${name}`);
  assert.equal(await curlStatus([...bearer(alice), '-X', 'POST', `${s.baseUrl}/api/v1/folders/keep`]), '201');
  await viewsCaughtUp();
});

after(async () => {
  await server?.stop('SIGINT');
  await pool.end().catch(() => undefined);
  await database.drop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('a delete cut short by a crash', () => {
  const sftpRm = (name: string) => async (s: ServerProcess) =>
    batchDone(await openSshBatch(sftpPort(s), 'alice', { password: PASSWORD }, [`rm ${name}`]));
  const httpDelete = (name: string) => async (s: ServerProcess) =>
    done(await curlStatus([...bearer(alice), '-X', 'DELETE', `${s.baseUrl}/api/v1/files/${name}`]));

  for (const [point, name, act] of [
    ['delete.after-intent', 'd1.txt', sftpRm('d1.txt')],
    ['delete.after-effect', 'd2.txt', sftpRm('d2.txt')],
    ['delete.after-intent', 'd4.txt', httpDelete('d4.txt')],
    ['delete.after-effect', 'd5.txt', httpDelete('d5.txt')],
  ] as const) {
    it(`${point} (${name}, ${name < 'd4' ? 'SFTP' : 'HTTP'}): the file is back and recorded as undone`, async () => {
      const position = await crashAt(point, act);
      assert.equal(await read(name), `content of ${name.slice(0, 2)}`);
      assert.deepEqual(await changesSince(position), [`FileChangeUndone delete /${name}`]);
      assert.ok(await inFilesView(`/${name}`));
      assert.deepEqual(await auditSince(position), [`file.delete aborted /${name}`]);
    });
  }

  for (const [name, act] of [
    ['d3.txt', sftpRm('d3.txt')],
    ['d6.txt', httpDelete('d6.txt')],
  ] as const) {
    it(`delete.after-event (${name}): the delete is finished and recorded once`, async () => {
      const position = await crashAt('delete.after-event', act);
      assert.equal(existsSync(onDisk(name)), false);
      assert.deepEqual(await changesSince(position), [`FileDeleted /${name}`]);
      assert.equal(await inFilesView(`/${name}`), false);
      assert.deepEqual(await auditSince(position), [`file.delete success /${name}`]);
    });
  }
});

describe('a rename cut short by a crash', () => {
  const sftpRename = (from: string, to: string) => (s: ServerProcess) =>
    openSshBatch(sftpPort(s), 'alice', { password: PASSWORD }, [`rename ${from} ${to}`]).then(batchDone);
  const httpMove = (from: string, to: string, overwrite: boolean) => (s: ServerProcess) =>
    curlStatus([
      ...bearer(alice),
      '-H',
      'content-type: application/json',
      '-d',
      JSON.stringify({ from, to, overwrite }),
      `${s.baseUrl}/api/v1/moves`,
    ]).then(done);

  it('rename.after-intent (SFTP): nothing moved, recorded as undone', async () => {
    const position = await crashAt('rename.after-intent', sftpRename('r1.txt', 'r1-new.txt'));
    assert.equal(await read('r1.txt'), 'content of r1');
    assert.equal(existsSync(onDisk('r1-new.txt')), false);
    assert.deepEqual(await changesSince(position), ['FileChangeUndone rename /r1.txt→/r1-new.txt']);
    assert.ok(await inFilesView('/r1.txt'));
  });

  it('rename.after-effect (SFTP posix-rename over a file): both files are back as they were', async () => {
    const position = await crashAt('rename.after-effect', sftpRename('r2.txt', 'r2-target.txt'));
    assert.equal(await read('r2.txt'), 'content of r2');
    assert.equal(await read('r2-target.txt'), 'content of r2-target');
    assert.deepEqual(await changesSince(position), ['FileChangeUndone rename /r2.txt→/r2-target.txt']);
    assert.ok((await inFilesView('/r2.txt')) && (await inFilesView('/r2-target.txt')));
    assert.deepEqual(await auditSince(position), ['file.rename aborted /r2-target.txt']);
  });

  it('rename.after-event (SFTP): the rename stands, recorded once', async () => {
    const position = await crashAt('rename.after-event', sftpRename('r3.txt', 'r3-new.txt'));
    assert.equal(existsSync(onDisk('r3.txt')), false);
    assert.equal(await read('r3-new.txt'), 'content of r3');
    assert.deepEqual(await changesSince(position), ['FileRenamed /r3.txt→/r3-new.txt']);
    assert.ok(await inFilesView('/r3-new.txt'));
    assert.equal(await inFilesView('/r3.txt'), false);
  });

  it('rename.after-intent (HTTP move): nothing moved, recorded as undone', async () => {
    const position = await crashAt('rename.after-intent', httpMove('/r6.txt', '/r6-new.txt', false));
    assert.equal(await read('r6.txt'), 'content of r6');
    assert.equal(existsSync(onDisk('r6-new.txt')), false);
    assert.deepEqual(await changesSince(position), ['FileChangeUndone rename /r6.txt→/r6-new.txt']);
    assert.ok(await inFilesView('/r6.txt'));
  });

  it('rename.after-effect (HTTP move): the file is back under its old name', async () => {
    const position = await crashAt('rename.after-effect', httpMove('/r4.txt', '/r4-new.txt', false));
    assert.equal(await read('r4.txt'), 'content of r4');
    assert.equal(existsSync(onDisk('r4-new.txt')), false);
    assert.deepEqual(await changesSince(position), ['FileChangeUndone rename /r4.txt→/r4-new.txt']);
    assert.ok(await inFilesView('/r4.txt'));
  });

  it('rename.after-event (HTTP move replacing a file): the move stands, the old target is gone', async () => {
    const position = await crashAt('rename.after-event', httpMove('/r5.txt', '/r5-target.txt', true));
    assert.equal(existsSync(onDisk('r5.txt')), false);
    assert.equal(await read('r5-target.txt'), 'content of r5');
    assert.deepEqual(await changesSince(position), ['FileRenamed /r5.txt→/r5-target.txt']);
    assert.ok(await inFilesView('/r5-target.txt'));
    assert.equal(await inFilesView('/r5.txt'), false);
  });
});

describe('folders and times cut short by a crash', () => {
  it('mkdir.after-effect (HTTP): the folder is removed again, recorded as undone', async () => {
    const position = await crashAt('mkdir.after-effect', (s) =>
      curlStatus([...bearer(alice), '-X', 'POST', `${s.baseUrl}/api/v1/folders/made`]).then(done),
    );
    assert.equal(existsSync(onDisk('made')), false);
    assert.deepEqual(await changesSince(position), ['FileChangeUndone mkdir /made']);
    assert.deepEqual(await auditSince(position), ['directory.create aborted /made']);
  });

  it('rmdir.after-effect (SFTP): the folder is back, recorded as undone', async () => {
    const position = await crashAt('rmdir.after-effect', (s) =>
      openSshBatch(sftpPort(s), 'alice', { password: PASSWORD }, ['rmdir keep']).then(batchDone),
    );
    assert.ok((await stat(onDisk('keep'))).isDirectory());
    assert.deepEqual(await changesSince(position), ['FileChangeUndone rmdir /keep']);
  });

  it('setstat.after-effect (paramiko utime): the old times are back, recorded as undone', async () => {
    const before = (await stat(onDisk('s1.txt'))).mtimeMs;
    const position = await crashAt('setstat.after-effect', (s) => utimeDone(s, 's1.txt'));
    assert.equal((await stat(onDisk('s1.txt'))).mtimeMs, Math.floor(before / 1000) * 1000);
    assert.deepEqual(await changesSince(position), ['FileChangeUndone setstat /s1.txt']);
    assert.deepEqual(await auditSince(position), ['file.setstat aborted /s1.txt']);
  });

  it('setstat.after-event: the new times stand, recorded as FileAttributesChanged', async () => {
    const position = await crashAt('setstat.after-event', (s) => utimeDone(s, 's1.txt'));
    assert.equal((await stat(onDisk('s1.txt'))).mtimeMs, 1_600_000_000_000);
    assert.deepEqual(await changesSince(position), ['FileAttributesChanged /s1.txt']);
    assert.deepEqual(await auditSince(position), ['file.setstat success /s1.txt']);
  });
});

describe('folders and times without a crash', () => {
  it('mkdir, setstat and rmdir over SFTP are made and recorded; setstat needs the overwrite permission', async () => {
    const s = await serverAt();
    const position = await head();
    const batch = await openSshBatch(sftpPort(s), 'alice', { password: PASSWORD }, ['mkdir fresh']);
    assert.equal(batch.code, 0, batch.stderr);
    assert.equal((await utime(s, 'alice', 'fresh', 1_500_000_000)).stdout.trim(), 'ok');
    assert.equal((await stat(onDisk('fresh'))).mtimeMs, 1_500_000_000_000);
    const removed = await openSshBatch(sftpPort(s), 'alice', { password: PASSWORD }, ['rmdir fresh']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(existsSync(onDisk('fresh')), false);

    // dropbox may list and upload, not overwrite: its SETSTAT is refused and recorded.
    const upload = await openSshBatch(sftpPort(s), 'dropbox', { password: PASSWORD }, [
      'put /etc/hostname h',
    ]);
    assert.equal(upload.code, 0, upload.stderr);
    const mtime = (await stat(path.join(dataDir, 'files', 'dropbox', 'h'))).mtimeMs;
    const refused = await utime(s, 'dropbox', 'h', 1_500_000_000);
    assert.match(refused.stdout, /^refused .*[Pp]ermission/, refused.stdout + refused.stderr);
    assert.equal((await stat(path.join(dataDir, 'files', 'dropbox', 'h'))).mtimeMs, mtime);

    await viewsCaughtUp();
    assert.deepEqual(await changesSince(position), [
      'DirectoryCreated /fresh',
      'FileAttributesChanged /fresh',
      'DirectoryRemoved /fresh',
    ]);
    const { rows } = await pool.query(
      `SELECT data FROM events WHERE global_position > $1 AND type = 'AccessDenied'`,
      [position],
    );
    assert.deepEqual(
      rows.map((r: { data: { operation: string; path: string } }) => `${r.data.operation} ${r.data.path}`),
      ['setstat /h'],
    );
    assert.deepEqual(await auditSince(position), [
      'directory.create success /fresh',
      'file.setstat success /fresh',
      'directory.remove success /fresh',
    ]);
  });
});
