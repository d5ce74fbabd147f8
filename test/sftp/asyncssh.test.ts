/**
 * Python asyncssh (Debian's python3-asyncssh, its own SFTP client): put and get with parallel
 * block requests, recursive put, listing, stat, utime, rename and posix_rename, remove and
 * rmtree. The server's files and the event log must match.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CorpusRecorder, checkDecodes } from '../sftp-protocol/support/corpus.js';
import { asyncssh } from '../support/sftp-clients.js';
import { adminSession, call, startTestSluice, type TestSluice } from '../support/sluice.js';

const PASSWORD = 'asyncssh-user-password';
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

let t: TestSluice;
let work: string;
let home: string;
let recorder: CorpusRecorder;

const big = randomBytes(4 * 1024 * 1024 + 5);
const tree = new Map<string, Buffer>([
  ['a.txt', Buffer.from('alpha\n')],
  ['b.bin', randomBytes(32_769)],
  ['inner/c.bin', randomBytes(100_003)],
]);

async function events(type: string): Promise<Array<{ data: Record<string, unknown> }>> {
  const { pool } = t.database.open({ max: 1 });
  return (await pool.query('SELECT data FROM events WHERE type = $1 ORDER BY global_position', [type])).rows;
}

before(async () => {
  t = await startTestSluice();
  const admin = await adminSession(t.base);
  const res = await call(t.base, 'POST', '/api/v1/users', {
    token: admin,
    body: { userName: 'asy', emailAddress: 'asy@example.com', password: PASSWORD },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  home = path.join(t.dataDir, 'files', 'asy');
  work = await mkdtemp(path.join(os.tmpdir(), 'sluice-asyncssh-'));
  await writeFile(path.join(work, 'big.bin'), big);
  for (const [name, data] of tree) {
    await mkdir(path.dirname(path.join(work, 'tree', name)), { recursive: true });
    await writeFile(path.join(work, 'tree', name), data);
  }
  recorder = new CorpusRecorder();
});

after(async () => {
  recorder.stop();
  await t.stop();
  await rm(work, { recursive: true, force: true });
});

const SCRIPT = `
import asyncio, sys, asyncssh
host, port, user, password, work = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]

async def main():
    async with asyncssh.connect(host, port, username=user, password=password, known_hosts=None,
                                client_keys=None) as conn:
        async with conn.start_sftp_client() as s:
            await s.put(work + '/big.bin', 'big.bin', block_size=65536, max_requests=16)
            await s.get('big.bin', work + '/big.back', block_size=65536, max_requests=16)
            print('size', (await s.stat('big.bin')).size)
            await s.utime('big.bin', (1_600_000_000, 1_600_000_000))
            print('mtime', (await s.stat('big.bin')).mtime)
            await s.put(work + '/tree', 'tree', recurse=True)
            print('list', sorted(await s.listdir('tree')))
            print('inner', sorted(await s.listdir('tree/inner')))
            await s.rename('big.bin', 'renamed.bin')
            try:
                await s.rename('tree/a.txt', 'tree/b.bin')
                print('rename-over', 'allowed')
            except asyncssh.SFTPError:
                print('rename-over', 'refused')
            await s.posix_rename('tree/a.txt', 'tree/b.bin')
            print('after-posix', sorted(await s.listdir('tree')))
            await s.remove('renamed.bin')
            await s.rmtree('tree')
            print('end', sorted(await s.listdir('.')))

asyncio.run(main())
print('version', asyncssh.__version__)
`;

describe('asyncssh', () => {
  it('transfers, lists, renames and deletes; the event log agrees', async () => {
    const result = await asyncssh(SCRIPT, t.sluice.sftpPort, 'asy', PASSWORD, work);
    assert.equal(result.code, 0, result.stderr);
    const lines = new Map(
      result.stdout
        .trim()
        .split('\n')
        .map((l) => [l.split(' ')[0], l.slice(l.indexOf(' ') + 1)] as const),
    );
    assert.equal(lines.get('size'), String(big.length));
    assert.equal(lines.get('mtime'), '1600000000');
    assert.equal(lines.get('list'), "['a.txt', 'b.bin', 'inner']");
    assert.equal(lines.get('inner'), "['c.bin']");
    assert.equal(lines.get('rename-over'), 'refused', 'SFTP RENAME never overwrites');
    assert.equal(lines.get('after-posix'), "['b.bin', 'inner']");
    assert.equal(lines.get('end'), '[]');
    assert.equal(sha256(await readFile(path.join(work, 'big.back'))), sha256(big));
    assert.equal(existsSync(path.join(home, 'tree')), false);

    const uploaded = await events('FileUploaded');
    assert.equal(uploaded.find((e) => e.data.path === '/big.bin')?.data.sha256, sha256(big));
    for (const [name, data] of tree) {
      assert.equal(uploaded.find((e) => e.data.path === `/tree/${name}`)?.data.sha256, sha256(data), name);
    }
    assert.ok(
      (await events('FileDownloaded')).some(
        (e) => e.data.path === '/big.bin' && e.data.whole === true && e.data.sha256 === sha256(big),
      ),
    );
    const renamed = await events('FileRenamed');
    assert.ok(renamed.some((e) => e.data.from === '/big.bin' && e.data.to === '/renamed.bin'));
    assert.ok(
      renamed.some(
        (e) => e.data.from === '/tree/a.txt' && e.data.to === '/tree/b.bin' && e.data.overwrote === true,
      ),
    );
    const deleted = (await events('FileDeleted')).map((e) => e.data.path);
    for (const p of ['/renamed.bin', '/tree/b.bin', '/tree/inner/c.bin']) assert.ok(deleted.includes(p), p);
    const removed = (await events('DirectoryRemoved')).map((e) => e.data.path);
    assert.ok(removed.includes('/tree') && removed.includes('/tree/inner'));

    recorder.stop();
    assert.equal(checkDecodes('asyncssh', recorder.packets), 0);
    await recorder.save('asyncssh', [
      `client: asyncssh ${lines.get('version')} (Debian 12 package python3-asyncssh)`,
      'did: put and get 4 MiB (64 KiB blocks, 16 requests), utime, put -r, listdir, rename, posix_rename, remove, rmtree',
    ]);
  });
});
