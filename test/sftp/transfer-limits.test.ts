/**
 * Transfer limits with real clients (paramiko, curl): a write far past the end (offset 4 GiB)
 * and a file over the size limit are refused; an upload over the user's quota is refused over
 * SFTP and HTTP with nothing left on disk and the refusal recorded as UploadAborted; a
 * sequential upload's sha256 (computed while streaming) matches the file.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { curlPutFile } from '../support/curl.js';
import { paramiko } from '../support/sftp-clients.js';
import { adminSession, call, startTestSluice, type TestSluice } from '../support/sluice.js';

const PASSWORD = 'transfer-limits-password';
let t: TestSluice;
let work: string;

async function rows(sql: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  const { pool } = t.database.open({ max: 1 });
  return (await pool.query(sql, params)).rows;
}

async function refusals(): Promise<Record<string, number>> {
  const text = await (await fetch(`${t.base}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const m of text.matchAll(/^sluice_refusals_total\{reason="([a-z-]+)"\} (\d+)$/gm))
    counts[m[1]!] = Number(m[2]);
  return counts;
}

const stagedParts = async () =>
  (await readdir(path.join(t.dataDir, 'uploads'))).filter((n) => n.endsWith('.part'));

before(async () => {
  t = await startTestSluice({
    env: {
      MFT_MAX_FILE_BYTES: String(3 * 1024 * 1024),
      MFT_MAX_WRITE_GAP_BYTES: String(1024 * 1024),
      MFT_USER_QUOTA_BYTES: String(2 * 1024 * 1024),
    },
  });
  const admin = await adminSession(t.base);
  for (const userName of ['quinn', 'rhea']) {
    const res = await call(t.base, 'POST', '/api/v1/users', {
      token: admin,
      body: { userName, emailAddress: `${userName}@example.com`, password: PASSWORD, permissions: [] },
    });
    assert.equal(res.status, 201);
  }
  work = await mkdtemp(path.join(os.tmpdir(), 'sluice-transfer-'));
});

after(async () => {
  await t.stop();
  await rm(work, { recursive: true, force: true });
});

describe('SFTP transfer limits', () => {
  it('refuses a write at offset 4 GiB (past the largest file size) and one far past the end; nothing is kept', async () => {
    const script = `
import sys, paramiko
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
t = paramiko.Transport((host, port)); t.connect(username=user, password=password)
s = paramiko.SFTPClient.from_transport(t)
for name, offset in (("far.bin", 4 * 1024**3), ("gap.bin", 2 * 1024 * 1024)):
    f = s.open(name, "wb")
    f.set_pipelined(False)
    try:
        f.seek(offset); f.write(b"x" * 100); f.flush()
        print(name, "written")
    except IOError as e:
        print(name, "refused", e)
    try:
        f.close()
    except IOError:
        pass
print("list", sorted(s.listdir(".")))
t.close()
`;
    const result = await paramiko(script, t.sluice.sftpPort, 'quinn', PASSWORD);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^far\.bin refused .*files are limited to 3145728 bytes/m);
    assert.match(
      result.stdout,
      /^gap\.bin refused .*more than 1048576 bytes past the end of the data \(0\)/m,
    );
    assert.match(result.stdout, /^list \[\]$/m);
    assert.deepEqual(await stagedParts(), []);
    const aborted = await rows(
      "SELECT data FROM events WHERE type = 'UploadAborted' ORDER BY global_position",
    );
    assert.deepEqual(
      aborted.map((r) => (r.data as { path: string }).path),
      ['/far.bin', '/gap.bin'],
    );
    const counts = await refusals();
    assert.equal(counts['write-gap'], 1);
    assert.equal(counts['file-too-large'], 1);
  });

  it('hashes a sequential upload while it streams: the recorded sha256 is the file’s', async () => {
    const payload = randomBytes(1024 * 1024 + 123);
    await writeFile(path.join(work, 'seq.bin'), payload);
    const script = `
import sys, paramiko
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
t = paramiko.Transport((host, port)); t.connect(username=user, password=password)
s = paramiko.SFTPClient.from_transport(t)
s.put(sys.argv[5], "seq.bin")
t.close()
`;
    const result = await paramiko(script, t.sluice.sftpPort, 'rhea', PASSWORD, path.join(work, 'seq.bin'));
    assert.equal(result.code, 0, result.stderr);
    const [uploaded] = await rows(
      "SELECT data FROM events WHERE type = 'FileUploaded' AND data->>'path' = '/seq.bin'",
    );
    assert.equal(
      (uploaded?.data as { sha256?: string } | undefined)?.sha256,
      createHash('sha256').update(payload).digest('hex'),
    );
  });

  it('refuses what would pass the user’s quota (2 MiB, 1 MiB stored): over SFTP and HTTP, nothing left on disk', async () => {
    await writeFile(path.join(work, 'over.bin'), randomBytes(1536 * 1024));
    const script = `
import sys, paramiko
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
t = paramiko.Transport((host, port)); t.connect(username=user, password=password)
s = paramiko.SFTPClient.from_transport(t)
data = open(sys.argv[5], "rb").read()
f = s.open("over.bin", "wb")
f.set_pipelined(False)
try:
    for i in range(0, len(data), 32768):
        f.write(data[i:i + 32768]); f.flush()
    print("put done")
except IOError as e:
    print("put refused", e)
try:
    f.close()
except IOError:
    pass
print("list", sorted(s.listdir(".")))
t.close()
`;
    const result = await paramiko(script, t.sluice.sftpPort, 'rhea', PASSWORD, path.join(work, 'over.bin'));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^put refused .*quota of 2097152 bytes would be exceeded/m);
    assert.match(result.stdout, /^list \['seq\.bin'\]$/m);
    assert.deepEqual((await readdir(path.join(t.dataDir, 'files', 'rhea'))).sort(), ['seq.bin']);
    assert.deepEqual(await stagedParts(), []);

    const opened = await call<{ token: string }>(t.base, 'POST', '/api/v1/sessions/open-immutable', {
      body: { userName: 'rhea', password: PASSWORD, applicationId: 2 },
    });
    const http = await curlPutFile(t.base, opened.body.token, path.join(work, 'over.bin'), 'over-http.bin');
    assert.equal(http.status, 507);
    assert.equal(http.json<{ type: string }>().type, '/problems/quota-exceeded');
    assert.deepEqual((await readdir(path.join(t.dataDir, 'files', 'rhea'))).sort(), ['seq.bin']);
    assert.deepEqual(await stagedParts(), []);
    const aborted = await rows(
      "SELECT data FROM events WHERE type = 'UploadAborted' AND data->>'path' IN ('/over.bin', '/over-http.bin')",
    );
    assert.equal(aborted.length, 2);
    assert.ok(aborted.every((r) => /quota/.test((r.data as { reason: string }).reason)));
    assert.equal((await refusals()).quota, 2);
  });
});
