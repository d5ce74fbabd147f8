/**
 * Issue 15: a user's own quota and largest file, set through the users API (UserCreated /
 * UserUpdated, the users view's columns), used instead of MFT_USER_QUOTA_BYTES (1 MiB here)
 * and within MFT_MAX_FILE_BYTES (4 MiB here); enforced for OpenSSH sftp batch uploads and curl
 * PUTs alike; bad values refused with nothing changed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { curlPutFile } from '../support/curl.js';
import { openSshBatch } from '../support/sftp-clients.js';
import { adminSession, call, startTestSluice, type TestSluice } from '../support/sluice.js';

const PASSWORD = 'storage-limits-password';
const KiB = 1024;
let t: TestSluice;
let admin: string;
let work: string;
const ids: Record<string, number> = {};
/** The position of the last user created (the users view is read at or after it). */
let lastPosition = 0;

/** Local files of these sizes, by name. */
const SIZES = { 'k40.bin': 40 * KiB, 'k60.bin': 60 * KiB, 'k150.bin': 150 * KiB, 'm2.bin': 2048 * KiB };

const home = async (user: string) =>
  (await readdir(path.join(t.dataDir, 'files', user)).catch(() => [])).sort();

function put(user: string, file: keyof typeof SIZES, as = file) {
  return openSshBatch(t.sluice.sftpPort, user, { password: PASSWORD }, [`put ${work}/${file} ${as}`]);
}

async function httpPut(user: string, file: keyof typeof SIZES, as: string) {
  const opened = await call<{ token: string }>(t.base, 'POST', '/api/v1/sessions/open-immutable', {
    body: { userName: user, password: PASSWORD, applicationId: 2 },
  });
  assert.equal(opened.status, 201);
  return curlPutFile(t.base, opened.body.token, path.join(work, file), as);
}

async function userEvents(userId: number): Promise<Array<{ type: string; data: Record<string, unknown> }>> {
  const { pool } = t.database.open({ max: 1 });
  const { rows } = await pool.query(
    'SELECT type, data FROM events WHERE stream_id = $1 ORDER BY global_position',
    [`user-${userId}`],
  );
  return rows;
}

before(async () => {
  t = await startTestSluice({
    env: { MFT_USER_QUOTA_BYTES: String(1024 * KiB), MFT_MAX_FILE_BYTES: String(4096 * KiB) },
  });
  admin = await adminSession(t.base);
  work = await mkdtemp(path.join(os.tmpdir(), 'sluice-storage-limits-'));
  for (const [name, size] of Object.entries(SIZES)) await writeFile(path.join(work, name), randomBytes(size));
  for (const [userName, limits] of [
    ['small', { quotaBytes: 100 * KiB }],
    ['big', { quotaBytes: 3072 * KiB }],
    ['unlimited', { quotaBytes: 0 }],
    ['capped', { maxFileBytes: 50 * KiB }],
    ['plain', {}],
  ] as const) {
    const res = await call<{
      userId: number;
      quotaBytes: number | null;
      maxFileBytes: number | null;
      position: number;
    }>(t.base, 'POST', '/api/v1/users', {
      token: admin,
      body: { userName, emailAddress: `${userName}@example.com`, password: PASSWORD, ...limits },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.quotaBytes, 'quotaBytes' in limits ? limits.quotaBytes : null);
    assert.equal(res.body.maxFileBytes, 'maxFileBytes' in limits ? limits.maxFileBytes : null);
    ids[userName] = res.body.userId;
    lastPosition = res.body.position;
  }
});

after(async () => {
  await t?.stop();
  await rm(work, { recursive: true, force: true });
});

describe("a user's own storage limits", () => {
  it('are recorded in the user events and shown by the user and the users view', async () => {
    const [created] = await userEvents(ids.small!);
    assert.equal(created?.type, 'UserCreated');
    assert.equal(created?.data.quotaBytes, 100 * KiB);
    const list = await call<{
      items: Array<{ userName: string; quotaBytes: number | null; maxFileBytes: number | null }>;
    }>(t.base, 'GET', `/api/v1/users?limit=100&minPosition=${lastPosition}`, { token: admin });
    assert.equal(list.status, 200);
    const byName = Object.fromEntries(
      list.body.items.map((u) => [u.userName, [u.quotaBytes, u.maxFileBytes]]),
    );
    assert.deepEqual(byName.small, [100 * KiB, null]);
    assert.deepEqual(byName.capped, [null, 50 * KiB]);
    assert.deepEqual(byName.plain, [null, null]);
  });

  it('refuses bad values with 400, changing nothing', async () => {
    const before = await userEvents(ids.small!);
    for (const body of [
      { quotaBytes: -1 },
      { quotaBytes: 1.5 },
      { quotaBytes: 'lots' },
      { maxFileBytes: 0 },
    ]) {
      const res = await call(t.base, 'PATCH', `/api/v1/users/${ids.small}`, { token: admin, body });
      assert.equal(res.status, 400, JSON.stringify(body));
    }
    assert.deepEqual(await userEvents(ids.small!), before);
  });

  it('sftp batch: a quota below the server’s refuses what the server’s would allow, one above allows what it would refuse', async () => {
    const over = await put('small', 'k150.bin');
    assert.notEqual(over.code, 0, 'the upload past 100 KiB is refused');
    assert.deepEqual(await home('small'), []);
    assert.equal((await put('small', 'k60.bin')).code, 0);
    assert.deepEqual(await home('small'), ['k60.bin']);

    assert.equal((await put('big', 'm2.bin')).code, 0, 'a 2 MiB file within its own 3 MiB quota');
    assert.deepEqual(await home('big'), ['m2.bin']);
    assert.equal((await put('unlimited', 'm2.bin')).code, 0, 'quotaBytes 0: no quota');
    assert.notEqual((await put('plain', 'm2.bin')).code, 0, 'the server’s 1 MiB still holds for the others');
    assert.deepEqual(await home('plain'), []);

    assert.notEqual((await put('capped', 'k60.bin')).code, 0, 'past its own largest file');
    assert.equal((await put('capped', 'k40.bin')).code, 0);
    assert.deepEqual(await home('capped'), ['k40.bin']);
  });

  it('curl: the same limits over HTTP (507 quota-exceeded, 413 too-large), and a change applies to the next upload', async () => {
    const over = await httpPut('small', 'k60.bin', 'second.bin');
    assert.equal(over.status, 507, over.body);
    assert.equal(over.json<{ type: string }>().type, '/problems/quota-exceeded');
    const tooLarge = await httpPut('capped', 'k60.bin', 'http.bin');
    assert.equal(tooLarge.status, 413, tooLarge.body);
    assert.equal((await httpPut('big', 'k150.bin', 'http.bin')).status, 201);

    const raised = await call<{ quotaBytes: number }>(t.base, 'PATCH', `/api/v1/users/${ids.small}`, {
      token: admin,
      body: { quotaBytes: 200 * KiB },
    });
    assert.equal(raised.status, 200);
    assert.equal(raised.body.quotaBytes, 200 * KiB);
    assert.equal((await httpPut('small', 'k60.bin', 'second.bin')).status, 201);
    assert.deepEqual(await home('small'), ['k60.bin', 'second.bin']);

    // Back to the server's quota (1 MiB): the same user may now store more.
    const cleared = await call<{ quotaBytes: number | null }>(t.base, 'PATCH', `/api/v1/users/${ids.small}`, {
      token: admin,
      body: { quotaBytes: null },
    });
    assert.equal(cleared.body.quotaBytes, null);
    assert.equal((await put('small', 'k150.bin')).code, 0);
    const changes = (await userEvents(ids.small!))
      .filter((e) => e.type === 'UserUpdated')
      .map((e) => e.data.changes);
    assert.deepEqual(changes, [{ quotaBytes: 200 * KiB }, { quotaBytes: null }]);
  });
});
