/**
 * lftp's own SFTP client (over OpenSSH's ssh): put, get, mirror both ways, mv and rm, with
 * files around and past 32 KiB. The server's files and the event log must match.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CorpusRecorder, checkDecodes } from '../sftp-protocol/support/corpus.js';
import { lftp } from '../support/sftp-clients.js';
import { adminSession, call, startTestSluice, type TestSluice } from '../support/sluice.js';

const PASSWORD = 'lftp-user-password';
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

let t: TestSluice;
let work: string;
let home: string;
let recorder: CorpusRecorder;

const single = randomBytes(3 * 1024 * 1024 + 17);
const tree = new Map<string, Buffer>([
  ['small.txt', Buffer.from('hello from lftp\n')],
  ['edge.bin', randomBytes(32_769)],
  ['mid.bin', randomBytes(200_000)],
  ['nested/deep.bin', randomBytes(70_001)],
]);

async function events(type: string): Promise<Array<{ data: Record<string, unknown> }>> {
  const { pool } = t.database.open({ max: 1 });
  return (await pool.query('SELECT data FROM events WHERE type = $1 ORDER BY global_position', [type])).rows;
}

const run = (commands: string[]) => lftp(t.sluice.sftpPort, 'lf', PASSWORD, commands);

before(async () => {
  t = await startTestSluice();
  const admin = await adminSession(t.base);
  const res = await call(t.base, 'POST', '/api/v1/users', {
    token: admin,
    body: { userName: 'lf', emailAddress: 'lf@example.com', password: PASSWORD },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  home = path.join(t.dataDir, 'files', 'lf');
  work = await mkdtemp(path.join(os.tmpdir(), 'sluice-lftp-'));
  await writeFile(path.join(work, 'single.bin'), single);
  for (const [name, data] of tree) {
    await mkdir(path.dirname(path.join(work, 'up', name)), { recursive: true });
    await writeFile(path.join(work, 'up', name), data);
  }
  recorder = new CorpusRecorder();
});

after(async () => {
  recorder.stop();
  await t.stop();
  await rm(work, { recursive: true, force: true });
});

describe('lftp sftp://', () => {
  it('put and get a multi-MiB file', async () => {
    const result = await run([
      `put ${work}/single.bin -o single.bin`,
      `get single.bin -o ${work}/single.back`,
      'cls -l',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /single\.bin/);
    assert.equal(sha256(await readFile(path.join(home, 'single.bin'))), sha256(single));
    assert.equal(sha256(await readFile(path.join(work, 'single.back'))), sha256(single));
    const up = (await events('FileUploaded')).find((e) => e.data.path === '/single.bin');
    assert.equal(up?.data.sha256, sha256(single));
    assert.ok(
      (await events('FileDownloaded')).some(
        (e) => e.data.path === '/single.bin' && e.data.whole === true && e.data.sha256 === sha256(single),
      ),
    );
  });

  it('mirror -R uploads a tree, mirror downloads it back', async () => {
    const result = await run([
      `mirror -R --parallel=4 ${work}/up mirrored`,
      `mirror --parallel=4 mirrored ${work}/down`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    const uploaded = await events('FileUploaded');
    for (const [name, data] of tree) {
      assert.equal(sha256(await readFile(path.join(home, 'mirrored', name))), sha256(data), name);
      assert.equal(sha256(await readFile(path.join(work, 'down', name))), sha256(data), name);
      assert.equal(
        uploaded.find((e) => e.data.path === `/mirrored/${name}`)?.data.sha256,
        sha256(data),
        name,
      );
    }
    assert.ok((await events('DirectoryCreated')).some((e) => e.data.path === '/mirrored/nested'));
  });

  it('mv renames, rm and rm -r delete', async () => {
    const result = await run(['mv single.bin renamed.bin', 'rm renamed.bin', 'rm -r mirrored', 'cls']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(existsSync(path.join(home, 'single.bin')), false);
    assert.equal(existsSync(path.join(home, 'renamed.bin')), false);
    assert.equal(existsSync(path.join(home, 'mirrored')), false);
    assert.ok(
      (await events('FileRenamed')).some(
        (e) => e.data.from === '/single.bin' && e.data.to === '/renamed.bin',
      ),
    );
    const deleted = (await events('FileDeleted')).map((e) => e.data.path);
    assert.ok(deleted.includes('/renamed.bin'));
    for (const name of tree.keys()) assert.ok(deleted.includes(`/mirrored/${name}`), name);
    const removed = (await events('DirectoryRemoved')).map((e) => e.data.path);
    assert.ok(removed.includes('/mirrored') && removed.includes('/mirrored/nested'));
  });

  it('sent only packets the codec takes', async () => {
    recorder.stop();
    assert.ok(recorder.packets.length > 0);
    assert.equal(checkDecodes('lftp', recorder.packets), 0);
    const version = (await lftpVersion()).split('\n')[0];
    await recorder.save('lftp', [
      `client: ${version} (Debian 12 package lftp), over OpenSSH ssh`,
      'did: put and get 3 MiB, mirror -R and mirror --parallel=4 of 4 files, mv, rm, rm -r, cls',
    ]);
  });
});

async function lftpVersion(): Promise<string> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve) => execFile('lftp', ['--version'], (_e, stdout) => resolve(String(stdout))));
}
