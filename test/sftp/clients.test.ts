/**
 * SFTP with the clients people use: OpenSSH `sftp -b` (password and public key), Python
 * paramiko and curl. Every operation must land in the event log with the right facts, and
 * every packet each client sent must decode (recorded into the corpus on request).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { CorpusRecorder, checkDecodes } from '../sftp-protocol/support/corpus.js';
import { curlSftp, openSshBatch, paramiko } from '../support/sftp-clients.js';
import { adminSession, call, startTestSluice, type TestSluice } from '../support/sluice.js';

const run = promisify(execFile);
const version = async (command: string, args: string[]) => {
  const { stdout, stderr } = await run(command, args);
  return `${stdout}${stderr}`.trim().split('\n')[0];
};

/** Records what one describe block's client sends; checks it decodes and saves it at the end. */
function recordCorpus(name: string, comments: () => Promise<string[]>): void {
  let recorder: CorpusRecorder;
  before(() => {
    recorder = new CorpusRecorder();
  });
  after(async () => {
    recorder.stop();
    assert.ok(recorder.packets.length > 0);
    assert.equal(checkDecodes(name, recorder.packets), 0);
    await recorder.save(name, await comments());
  });
}
let t: TestSluice;
let admin: string;
let work: string;
let port: number;
const PASSWORD = 'sftp-user-password';
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function events(
  type: string,
  where = 'true',
): Promise<Array<{ data: Record<string, unknown>; metadata: { actor: Record<string, unknown> } }>> {
  const { pool } = t.database.open({ max: 1 });
  return (
    await pool.query(
      `SELECT data, metadata FROM events WHERE type = $1 AND ${where} ORDER BY global_position`,
      [type],
    )
  ).rows;
}

async function createUser(userName: string, extra: Record<string, unknown> = {}): Promise<number> {
  const res = await call<{ userId: number }>(t.base, 'POST', '/api/v1/users', {
    token: admin,
    body: { userName, emailAddress: `${userName}@example.com`, password: PASSWORD, ...extra },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.userId;
}

before(async () => {
  t = await startTestSluice();
  port = t.sluice.sftpPort;
  admin = await adminSession(t.base);
  work = await mkdtemp(path.join(os.tmpdir(), 'sluice-sftp-'));
  await run('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-C',
    'kim@test',
    '-f',
    path.join(work, 'id_kim'),
  ]);
  await createUser('kim', {
    sshPublicKeys: [(await readFile(path.join(work, 'id_kim.pub'), 'utf8')).trim()],
  });
  await createUser('lee');
  await createUser('pat');
  await createUser('curly');
});

after(async () => {
  await t.stop();
  await rm(work, { recursive: true, force: true });
});

describe('OpenSSH sftp in batch mode', () => {
  recordCorpus('openssh-sftp', async () => [
    `client: ${await version('ssh', ['-V'])} sftp -b (Debian 12 package openssh-client)`,
    'did: put and get 5 MiB, ls -l, mkdir, rename, reget from 1,000,000, rm, rmdir; ls with a key',
  ]);
  it('password sign-in: upload, list, download, resume, rename, mkdir, rmdir, delete', async () => {
    const big = randomBytes(5 * 1024 * 1024 + 123);
    await writeFile(path.join(work, 'big.bin'), big);
    const result = await openSshBatch(port, 'lee', { password: PASSWORD }, [
      `put ${work}/big.bin big.bin`,
      'ls -l',
      `get big.bin ${work}/big.back`,
      'mkdir reports',
      'rename big.bin reports/big.bin',
      'ls reports',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /big\.bin/);
    assert.deepEqual(await readFile(path.join(work, 'big.back')), big);
    const home = path.join(t.dataDir, 'files', 'lee');
    assert.deepEqual(await readFile(path.join(home, 'reports', 'big.bin')), big);

    // Resume a download cut short: reget continues from the partial local file.
    await writeFile(path.join(work, 'partial.bin'), big.subarray(0, 1_000_000));
    const resumed = await openSshBatch(port, 'lee', { password: PASSWORD }, [
      `reget reports/big.bin ${work}/partial.bin`,
    ]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(await readFile(path.join(work, 'partial.bin')), big);

    const cleanup = await openSshBatch(port, 'lee', { password: PASSWORD }, [
      'rm reports/big.bin',
      'rmdir reports',
      'ls',
    ]);
    assert.equal(cleanup.code, 0, cleanup.stderr);
    assert.deepEqual(await readdir(home), []);

    const uploaded = (await events('FileUploaded')).find((e) => e.data.path === '/big.bin');
    assert.equal(uploaded?.data.sha256, sha256(big));
    assert.equal(uploaded?.data.size, big.length);
    assert.equal(uploaded?.data.protocol, 'sftp');
    assert.equal(uploaded?.metadata.actor.applicationId, 3);
    assert.equal(uploaded?.metadata.actor.clientIp, '127.0.0.1');
    assert.equal(typeof uploaded?.metadata.actor.clientPort, 'number');
    const downloads = (await events('FileDownloaded')).filter((e) => String(e.data.path).endsWith('big.bin'));
    assert.ok(
      downloads.some((d) => d.data.whole === true && d.data.sha256 === sha256(big)),
      'the whole download with its sha256',
    );
    assert.ok(
      downloads.some(
        (d) =>
          d.data.whole === false &&
          d.data.offset === 1_000_000 &&
          d.data.bytesSent === big.length - 1_000_000,
      ),
      'the resumed range',
    );
    assert.ok(
      (await events('FileRenamed')).some(
        (e) => e.data.from === '/big.bin' && e.data.to === '/reports/big.bin',
      ),
    );
    assert.ok((await events('DirectoryCreated')).some((e) => e.data.path === '/reports'));
    assert.ok((await events('DirectoryRemoved')).some((e) => e.data.path === '/reports'));
    assert.ok(
      (await events('FileDeleted')).some(
        (e) => e.data.path === '/reports/big.bin' && e.data.size === big.length,
      ),
    );
  });

  it('public-key sign-in; connections share one immutable SFTP session and are each recorded', async () => {
    await writeFile(path.join(work, 'small.txt'), 'hello from kim\n');
    const first = await openSshBatch(port, 'kim', { identityFile: path.join(work, 'id_kim') }, [
      `put ${work}/small.txt small.txt`,
    ]);
    assert.equal(first.code, 0, first.stderr);
    const second = await openSshBatch(port, 'kim', { identityFile: path.join(work, 'id_kim') }, ['ls']);
    assert.equal(second.code, 0, second.stderr);
    const opened = (await events('ConnectionOpened')).filter(
      (e) => e.metadata.actor.userId !== undefined && e.data.authMethod === 'public-key',
    );
    assert.equal(opened.length, 2);
    assert.equal(
      opened[0]?.data.sessionId,
      opened[1]?.data.sessionId,
      'one immutable session for both connections',
    );
    assert.match(String(opened[0]?.data.keyFingerprint), /^SHA256:/);
    assert.match(String(opened[0]?.data.clientSoftware), /OpenSSH/);
    const sessions = (await events('SessionOpened')).filter(
      (e) => e.data.sessionId === opened[0]?.data.sessionId,
    );
    assert.equal(sessions[0]?.data.kind, 'immutable');
    assert.equal(sessions[0]?.data.applicationId, 3);
    assert.equal(sessions[0]?.data.method, 'public-key');
    // ConnectionClosed follows each connection.
    for (let i = 0; i < 50 && (await events('ConnectionClosed')).length < 2; i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.ok((await events('ConnectionClosed')).length >= 2);
  });

  it('refuses a wrong password and records the failed sign-in', async () => {
    const result = await openSshBatch(port, 'lee', { password: 'wrong-password' }, ['ls']);
    assert.notEqual(result.code, 0);
    const failures = await events('SignInFailed', "data->>'userName' = 'lee'");
    assert.ok(failures.some((f) => f.data.reason === 'invalid-credentials' && f.data.applicationId === 3));
  });
});

describe('paramiko', () => {
  recordCorpus('paramiko', async () => [
    `client: paramiko ${await version('/usr/bin/python3', ['-c', 'import paramiko; print(paramiko.__version__)'])} (Debian 12 package python3-paramiko)`,
    'did: pipelined write and read of 300,000 bytes, stat, mkdir, listdir, rename, posix_rename',
  ]);
  it('uploads, stats, lists, renames with and without overwrite', async () => {
    const script = `
import sys, paramiko, hashlib, os
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
t = paramiko.Transport((host, port))
t.connect(username=user, password=password)
s = paramiko.SFTPClient.from_transport(t)
data = os.urandom(300000)
with s.open('p.bin', 'wb') as f:
    f.set_pipelined(True)
    f.write(data)
print('size', s.stat('p.bin').st_size)
with s.open('p.bin', 'rb') as f:
    print('same', f.read() == data)
print('sha', hashlib.sha256(data).hexdigest())
s.mkdir('dir')
print('list', sorted(s.listdir('.')))
with s.open('other.bin', 'wb') as f:
    f.write(b'other')
try:
    s.rename('p.bin', 'other.bin')
    print('rename-over', 'allowed')
except IOError as e:
    print('rename-over', 'refused')
s.posix_rename('p.bin', 'other.bin')
print('posix', sorted(s.listdir('.')))
print('stat-dir', s.stat('dir').st_mode & 0o170000 == 0o040000)
s.close(); t.close()
`;
    const result = await paramiko(script, port, 'pat', PASSWORD);
    assert.equal(result.code, 0, result.stderr);
    const lines = Object.fromEntries(
      result.stdout
        .trim()
        .split('\n')
        .map((l) => [l.split(' ')[0], l.slice(l.indexOf(' ') + 1)]),
    );
    assert.equal(lines.size, '300000');
    assert.equal(lines.same, 'True');
    assert.equal(lines.list, "['dir', 'p.bin']");
    assert.equal(lines['rename-over'], 'refused', 'SFTP RENAME never overwrites');
    assert.equal(lines.posix, "['dir', 'other.bin']", 'posix-rename does');
    assert.equal(lines['stat-dir'], 'True');
    const uploaded = (await events('FileUploaded')).find((e) => e.data.path === '/p.bin');
    assert.equal(uploaded?.data.sha256, lines.sha);
    assert.ok(
      (await events('FileRenamed')).some(
        (e) => e.data.from === '/p.bin' && e.data.to === '/other.bin' && e.data.overwrote === true,
      ),
    );
  });
});

describe('curl sftp://', () => {
  recordCorpus('curl', async () => [
    `client: ${await version('curl', ['--version'])} (Debian 12 package curl)`,
    'did: upload and download 200,000 bytes, list, rm by quote command',
  ]);
  it('uploads, downloads, lists and deletes', async () => {
    const payload = randomBytes(200_000);
    await writeFile(path.join(work, 'curl.bin'), payload);
    const base = `sftp://127.0.0.1:${port}`;
    const user = ['--user', `curly:${PASSWORD}`];
    const up = await curlSftp([...user, '-T', path.join(work, 'curl.bin'), `${base}/~/curl.bin`]);
    assert.equal(up.code, 0, up.stderr);
    const down = await curlSftp([...user, '-o', path.join(work, 'curl.back'), `${base}/~/curl.bin`]);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await readFile(path.join(work, 'curl.back')), payload);
    const list = await curlSftp([...user, `${base}/~/`]);
    assert.match(list.stdout, /curl\.bin/);
    const del = await curlSftp([...user, '-Q', 'rm /curl.bin', `${base}/~/`]);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(existsSync(path.join(t.dataDir, 'files', 'curly', 'curl.bin')), false);
    assert.equal(
      (await events('FileUploaded')).find((e) => e.data.path === '/curl.bin')?.data.sha256,
      sha256(payload),
    );
  });
});
