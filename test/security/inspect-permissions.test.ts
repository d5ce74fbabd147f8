/**
 * HEAD and STAT honour permissions. The attack reproduced against a live server: HEAD
 * /api/v1/files/{path} told an upload-only user a file's size and sha256 (ETag), and SFTP STAT
 * told its size and dates. Now the file-operations core asks for `list` or `download` (or `list`
 * on the folder) before it tells anything about a path, and the HTTP GET/HEAD route asks for
 * `download` before size, dates or ETag; each refusal is recorded as AccessDenied.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { curl } from '../support/curl.js';
import { openSshBatch, paramiko } from '../support/sftp-clients.js';
import { adminSession, call, startTestSluice, type TestSluice } from '../support/sluice.js';

const run = promisify(execFile);
let t: TestSluice;
let work: string;
const PASSWORD = 'inspect-test-password';
const SECRET = 'the quarterly figures, not for the drop box';
const REPORT = 'new report';

type Denial = { protocol: string; operation: string; path: string; reason: string };
async function denials(): Promise<Denial[]> {
  const { pool } = t.database.open({ max: 1 });
  try {
    return (
      await pool.query("SELECT data FROM events WHERE type = 'AccessDenied' ORDER BY global_position")
    ).rows.map((r: { data: Denial }) => r.data);
  } finally {
    await pool.end();
  }
}

async function token(userName: string): Promise<string> {
  const res = await call<{ token: string }>(t.base, 'POST', '/api/v1/sessions/open-immutable', {
    body: { userName, password: PASSWORD, applicationId: 2, clientVersion: 'tests' },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.token;
}

const head = (bearer: string, file: string) =>
  curl(['-I', '-H', `authorization: Bearer ${bearer}`, `${t.base}/api/v1/files${file}`]);

/** paramiko: STAT, LSTAT, listdir, an upload without the after-upload STAT, and FSTAT of that upload. */
const PROBE = `
import sys, io, paramiko
host, port, user, password = sys.argv[1:5]
t = paramiko.Transport((host, int(port)))
t.connect(username=user, password=password)
s = paramiko.SFTPClient.from_transport(t)
def upload():
    with s.open('/inbox/new.txt', 'wb') as f:
        f.write(b'dropped')
        return f.stat().st_size
for name, op in (('stat', lambda: s.stat('/inbox/secret.txt')), ('lstat', lambda: s.lstat('/inbox/secret.txt')),
                 ('listdir', lambda: s.listdir('/inbox')), ('stat-dir', lambda: s.stat('/inbox')),
                 ('put', lambda: s.putfo(io.BytesIO(b'dropped'), '/inbox/put.txt', confirm=False)),
                 ('fstat-own-upload', upload)):
    try:
        op()
        print(name, 'ALLOWED')
    except PermissionError:
        print(name, 'DENIED')
t.close()
`;

before(async () => {
  t = await startTestSluice();
  const admin = await adminSession(t.base);
  work = await mkdtemp(path.join(os.tmpdir(), 'sluice-inspect-'));
  for (const [userName, permissions] of [
    ['dropper', [{ path: '/inbox', permissions: ['upload'] }]],
    ['lister', [{ path: '/', permissions: ['list'] }]],
    ['owner', []],
  ] as const) {
    const res = await call(t.base, 'POST', '/api/v1/users', {
      token: admin,
      body: { userName, emailAddress: `${userName}@example.com`, password: PASSWORD, permissions },
    });
    assert.equal(res.status, 201);
  }
  for (const userName of ['dropper', 'lister', 'owner']) {
    await mkdir(path.join(t.dataDir, 'files', userName, 'inbox'), { recursive: true });
    await writeFile(path.join(t.dataDir, 'files', userName, 'inbox', 'secret.txt'), SECRET);
  }
});

after(async () => {
  await t.stop();
  await rm(work, { recursive: true, force: true });
});

describe('HEAD (curl)', () => {
  it('tells an upload-only user nothing about a file: 403, no size, no ETag, a recorded denial', async () => {
    const bearer = await token('dropper');
    // It may drop files (the files view then knows the new file's sha256, once projected).
    const put = await curl([
      '-X',
      'PUT',
      '-H',
      `authorization: Bearer ${bearer}`,
      '--data-binary',
      REPORT,
      `${t.base}/api/v1/files/inbox/report.txt`,
    ]);
    assert.equal(put.status, 201, put.body);
    for (const [file, size] of [
      ['/inbox/secret.txt', SECRET.length],
      ['/inbox/report.txt', REPORT.length],
    ] as const) {
      const res = await head(bearer, file);
      assert.equal(res.status, 403, file);
      assert.notEqual(res.headers['content-length'], String(size));
      assert.equal(res.headers.etag, undefined);
      assert.equal(res.headers['last-modified'], undefined);
      assert.ok(
        (await denials()).some((d) => d.protocol === 'http' && d.operation === 'stat' && d.path === file),
      );
    }
    const get = await curl([
      '-H',
      `authorization: Bearer ${bearer}`,
      `${t.base}/api/v1/files/inbox/secret.txt`,
    ]);
    assert.equal(get.status, 403);
    assert.ok(!get.body.includes(SECRET));
  });

  it('a user who may list but not download gets no size or ETag from HEAD either', async () => {
    const res = await head(await token('lister'), '/inbox/secret.txt');
    assert.equal(res.status, 403);
    assert.equal(res.headers.etag, undefined);
    assert.ok(
      (await denials()).some(
        (d) => d.protocol === 'http' && d.operation === 'download' && d.path === '/inbox/secret.txt',
      ),
    );
  });

  it('a user who may download gets size and dates from HEAD, and HEAD records no download', async () => {
    const res = await head(await token('owner'), '/inbox/secret.txt');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], String(SECRET.length));
    assert.ok(res.headers['last-modified']);
    const { pool } = t.database.open({ max: 1 });
    const downloads = (await pool.query("SELECT count(*) AS n FROM events WHERE type = 'FileDownloaded'"))
      .rows;
    await pool.end();
    assert.equal(Number(downloads[0].n), 0);
  });
});

describe('SFTP STAT, LSTAT and listing', () => {
  it('paramiko: STAT, LSTAT and listdir are refused to an upload-only user; its own upload and FSTAT work', async () => {
    const result = await paramiko(PROBE, t.sluice.sftpPort, 'dropper', PASSWORD);
    assert.equal(
      result.stdout,
      [
        'stat DENIED',
        'lstat DENIED',
        'listdir DENIED',
        'stat-dir DENIED',
        'put ALLOWED',
        'fstat-own-upload ALLOWED',
        '',
      ].join('\n'),
      result.stderr,
    );
    const sftpStats = (await denials()).filter(
      (d) => d.protocol === 'sftp' && d.operation === 'stat' && d.path === '/inbox/secret.txt',
    );
    assert.ok(sftpStats.length >= 2, 'STAT and LSTAT are both recorded');
    assert.ok(sftpStats.every((d) => d.reason.includes('no list or download permission')));
  });

  it('OpenSSH sftp: ls -l of a file is refused to an upload-only user, put still works; a reader sees it', async () => {
    const local = path.join(work, 'upload.txt');
    await writeFile(local, 'from openssh');
    const dropper = await openSshBatch(t.sluice.sftpPort, 'dropper', { password: PASSWORD }, [
      '-ls -l /inbox/secret.txt',
      `put ${local} /inbox/openssh.txt`,
    ]);
    assert.equal(dropper.code, 0, dropper.stderr);
    assert.ok(!dropper.stdout.includes(String(SECRET.length)), dropper.stdout);
    assert.ok(!/secret\.txt\s*$/m.test(dropper.stdout.replace(/^sftp>.*$/gm, '')), dropper.stdout);
    const { stdout } = await run('cat', [path.join(t.dataDir, 'files', 'dropper', 'inbox', 'openssh.txt')]);
    assert.equal(stdout, 'from openssh');
    const owner = await openSshBatch(t.sluice.sftpPort, 'owner', { password: PASSWORD }, [
      'ls -l /inbox/secret.txt',
    ]);
    assert.equal(owner.code, 0, owner.stderr);
    assert.match(owner.stdout, new RegExp(`\\s${SECRET.length}\\s.*secret\\.txt`));
  });
});
