/**
 * A large download records the sha256 of what was sent: taken from the files view while the
 * file is as its recorded upload left it, hashed again once it was changed behind Sluice's
 * back (same size, new content), never the stale recorded one.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSshBatch } from '../support/sftp-clients.js';
import { adminSession, call, startTestSluice, type TestSluice } from '../support/sluice.js';

const PASSWORD = 'dora-password-1';
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

let t: TestSluice;
let work: string;
const content = randomBytes(3 * 1024 * 1024);

/** The FileDownloaded events recorded so far, oldest first. */
async function downloads(): Promise<Array<{ sha256: string | null; whole: boolean; bytesSent: number }>> {
  const { pool } = t.database.open({ max: 1 });
  const rows = await pool.query<{ data: { sha256: string | null; whole: boolean; bytesSent: number } }>(
    `SELECT data FROM events WHERE type = 'FileDownloaded' ORDER BY global_position`,
  );
  return rows.rows.map(({ data }) => ({ sha256: data.sha256, whole: data.whole, bytesSent: data.bytesSent }));
}

before(async () => {
  t = await startTestSluice();
  const admin = await adminSession(t.base);
  const created = await call(t.base, 'POST', '/api/v1/users', {
    token: admin,
    body: { userName: 'dora', emailAddress: 'dora@example.com', password: PASSWORD },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  work = await mkdtemp(path.join(os.tmpdir(), 'sluice-download-digest-'));
  await writeFile(path.join(work, 'big.bin'), content);
});

after(async () => {
  await t?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('the sha256 of a large download', () => {
  it('is the recorded one while the file is unchanged, and the sent bytes’ once it changed on disk', async () => {
    const sftp = (batch: string[]) => openSshBatch(t.sluice.sftpPort, 'dora', { password: PASSWORD }, batch);
    const put = await sftp([`put ${path.join(work, 'big.bin')} /big.bin`]);
    assert.equal(put.code, 0, put.stderr);
    // The files view knows the upload.
    const { pool } = t.database.open({ max: 1 });
    const head = Number((await pool.query('SELECT max(global_position) AS p FROM events')).rows[0].p);
    assert.ok(await t.sluice.runner.waitForPosition(head, 20_000));

    const first = await sftp([`get /big.bin ${path.join(work, 'first.bin')}`]);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(await readFile(path.join(work, 'first.bin')), content);

    // Changed behind Sluice's back: same size, other bytes at the start.
    const changed = Buffer.from(content);
    changed.write('changed outside Sluice', 0);
    const stored = await open(path.join(t.dataDir, 'files', 'dora', 'big.bin'), 'r+');
    await stored.write(changed, 0, 64, 0);
    await stored.close();

    const second = await sftp([`get /big.bin ${path.join(work, 'second.bin')}`]);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(await readFile(path.join(work, 'second.bin')), changed);

    const recorded = await downloads();
    assert.equal(recorded.length, 2);
    assert.deepEqual(recorded[0], { sha256: sha256(content), whole: true, bytesSent: content.length });
    assert.deepEqual(recorded[1], { sha256: sha256(changed), whole: true, bytesSent: changed.length });
  });
});
