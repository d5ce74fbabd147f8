/**
 * Issue 14 items 2 and 5: a download is on record before its first byte leaves
 * (DownloadStarted), and how it ended is recorded on the same stream (FileDownloaded). If the
 * start cannot be recorded, nothing is sent: curl gets a problem, OpenSSH sftp a failure.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { curl } from '../support/curl.js';
import { openSshBatch } from '../support/sftp-clients.js';
import { adminSession, createUser, startTestSluice, type TestSluice } from '../support/sluice.js';

const PASSWORD = 'download-record-password';
const CONTENT = 'the quarterly report\n'.repeat(100);
let t: TestSluice;
let token: string;
let work: string;

async function sqlQuery(text: string, params: unknown[] = []) {
  const { pool } = t.database.open({ max: 1 });
  return pool.query(text, params);
}

async function downloadEvents(): Promise<Array<{ stream: string; revision: number; type: string }>> {
  const { rows } = await sqlQuery(
    `SELECT stream_id AS stream, stream_revision::int AS revision, type FROM events
      WHERE type IN ('DownloadStarted', 'FileDownloaded') ORDER BY global_position`,
  );
  return rows;
}

before(async () => {
  t = await startTestSluice();
  const admin = await adminSession(t.base);
  await createUser(t.base, admin, {
    userName: 'reader',
    emailAddress: 'reader@example.com',
    password: PASSWORD,
    permissions: [{ path: '/', permissions: ['list', 'download', 'upload'] }],
  });
  const opened = await curl([
    '-X',
    'POST',
    '-H',
    'content-type: application/json',
    '--data',
    JSON.stringify({ userName: 'reader', password: PASSWORD, applicationId: 2, clientVersion: 'curl' }),
    `${t.base}/api/v1/sessions/open-immutable`,
  ]);
  token = opened.json<{ token: string }>().token;
  const put = await curl([
    '-X',
    'PUT',
    '-H',
    `authorization: Bearer ${token}`,
    '--data-binary',
    CONTENT,
    `${t.base}/api/v1/files/report.txt`,
  ]);
  assert.equal(put.status, 201, put.body);
  work = await mkdtemp(path.join(os.tmpdir(), 'sluice-download-record-'));
});

after(async () => {
  await t.stop();
  await rm(work, { recursive: true, force: true });
});

describe('downloads on record before their first byte', () => {
  it('curl GET: DownloadStarted, then FileDownloaded on the same stream; HEAD records neither', async () => {
    const head = await curl([
      '-I',
      '-H',
      `authorization: Bearer ${token}`,
      `${t.base}/api/v1/files/report.txt`,
    ]);
    assert.equal(head.status, 200);
    assert.deepEqual(await downloadEvents(), []);
    const get = await curl(['-H', `authorization: Bearer ${token}`, `${t.base}/api/v1/files/report.txt`]);
    assert.equal(get.status, 200);
    assert.equal(get.body, CONTENT);
    const events = await downloadEvents();
    assert.deepEqual(
      events.map((e) => [e.type, e.revision]),
      [
        ['DownloadStarted', 0],
        ['FileDownloaded', 1],
      ],
    );
    assert.equal(events[0]?.stream, events[1]?.stream);
  });

  it('when the start cannot be recorded, nothing is sent (curl, OpenSSH sftp), and it works again after', async () => {
    await sqlQuery(`
      CREATE OR REPLACE FUNCTION test_refuse_download() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'test refuses %', NEW.type; END $$`);
    await sqlQuery(`CREATE TRIGGER refuse_download BEFORE INSERT ON events FOR EACH ROW
      WHEN (NEW.type = 'DownloadStarted') EXECUTE FUNCTION test_refuse_download()`);
    const before = (await downloadEvents()).length;
    try {
      const get = await curl(['-H', `authorization: Bearer ${token}`, `${t.base}/api/v1/files/report.txt`]);
      assert.ok(get.status >= 500, `${get.status}`);
      assert.ok(!get.body.includes('quarterly'), 'no byte of the file');
      const local = path.join(work, 'refused.txt');
      const sftp = await openSshBatch(t.sluice.sftpPort, 'reader', { password: PASSWORD }, [
        `get report.txt ${local}`,
      ]);
      assert.notEqual(sftp.code, 0, 'the sftp get failed');
      const got = await readFile(local, 'utf8').catch(() => '');
      assert.ok(!got.includes('quarterly'), 'no byte of the file reached the sftp client');
      assert.equal((await downloadEvents()).length, before, 'nothing recorded');
    } finally {
      await sqlQuery('DROP TRIGGER refuse_download ON events');
    }
    const local = path.join(work, 'allowed.txt');
    const sftp = await openSshBatch(t.sluice.sftpPort, 'reader', { password: PASSWORD }, [
      `get report.txt ${local}`,
    ]);
    assert.equal(sftp.code, 0, sftp.stderr);
    assert.equal(await readFile(local, 'utf8'), CONTENT);
    assert.deepEqual(
      (await downloadEvents()).slice(before).map((e) => e.type),
      ['DownloadStarted', 'FileDownloaded'],
    );
  });
});
