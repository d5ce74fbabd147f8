/**
 * Transfer limits with real clients (paramiko, curl): a write far past the end (offset 4 GiB)
 * and a file over the size limit are refused, and so is a ladder of small writes whose holes
 * together pass the write gap; an upload over the user's quota is refused over SFTP and HTTP
 * with nothing left on disk and the refusal recorded as UploadAborted; a sequential upload's
 * sha256 is computed while it streams (nothing read back at CLOSE), an out-of-order one's by
 * reading it back once.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { curlPutFile } from '../support/curl.js';
import { metricSamples } from '../support/metrics.js';
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

const readBackBytes = async () =>
  (await metricSamples(t.base, 'sluice_upload_read_back_bytes_total'))[
    'sluice_upload_read_back_bytes_total'
  ] ?? Number.NaN;

/** The start of each paramiko script: `s` is an SFTP client signed in as the user in argv. */
const SIGNED_IN = `
import sys, paramiko
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
t = paramiko.Transport((host, port)); t.connect(username=user, password=password)
s = paramiko.SFTPClient.from_transport(t)`;

/** The end of a script that wrote to `f`: a refused CLOSE is passed over; prints what is there. */
const CLOSE_AND_LIST = `try:
    f.close()
except IOError:
    pass
print("list", sorted(s.listdir(".")))
t.close()
`;

const stagedParts = async () =>
  (await readdir(path.join(t.dataDir, 'uploads'))).filter((n) => n.endsWith('.part'));

before(async () => {
  t = await startTestSluice({
    env: {
      MFT_MAX_FILE_BYTES: String(256 * 1024 * 1024),
      MFT_MAX_WRITE_GAP_BYTES: String(1024 * 1024),
      MFT_USER_QUOTA_BYTES: String(2 * 1024 * 1024),
    },
  });
  const admin = await adminSession(t.base);
  // quinn has no quota of its own (0): only the file size and the write gap bound its uploads.
  for (const [userName, quotaBytes] of [
    ['quinn', 0],
    ['rhea', null],
  ] as const) {
    const res = await call(t.base, 'POST', '/api/v1/users', {
      token: admin,
      body: {
        userName,
        emailAddress: `${userName}@example.com`,
        password: PASSWORD,
        permissions: [],
        quotaBytes,
      },
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
    const script = `${SIGNED_IN}
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
    assert.match(result.stdout, /^far\.bin refused .*files are limited to 268435456 bytes/m);
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

  it('refuses a ladder of 1-byte writes, each within the gap, once their holes together pass it; nothing is kept', async () => {
    // Without the total, 160 rungs 1 MiB apart would build a 160 MiB sparse file that CLOSE
    // reads back whole (with the defaults: 64 MiB apart, 10 GiB).
    const before = await readBackBytes();
    const script = `${SIGNED_IN}
f = s.open("ladder.bin", "wb")
f.set_pipelined(False)
for rung in range(160):
    try:
        f.seek((rung + 1) * 1024 * 1024); f.write(b"x"); f.flush()
    except IOError as e:
        print("refused at rung", rung, e)
        break
else:
    print("every rung written")
${CLOSE_AND_LIST}`;
    const result = await paramiko(script, t.sluice.sftpPort, 'quinn', PASSWORD);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /^refused at rung 1 .*would leave 2097151 bytes unwritten below the end of the data, more than 1048576/m,
    );
    assert.match(result.stdout, /^list \[\]$/m);
    assert.deepEqual(await stagedParts(), []);
    const recorded = await rows(
      "SELECT type, data->>'bytesReceived' AS bytes, data->>'reason' AS reason FROM events WHERE data->>'path' = '/ladder.bin'",
    );
    assert.deepEqual(
      recorded.map((r) => [r.type, r.bytes]),
      [['UploadAborted', '1']],
    );
    assert.match(String(recorded[0]?.reason), /2097151 bytes unwritten below the end/);
    assert.equal((await refusals())['write-gap'], 2);
    assert.equal(await readBackBytes(), before);
  });

  it('hashes a sequential upload while it streams: the recorded sha256 is the file’s, nothing read back', async () => {
    const before = await readBackBytes();
    const payload = randomBytes(1024 * 1024 + 123);
    await writeFile(path.join(work, 'seq.bin'), payload);
    const script = `${SIGNED_IN}
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
    assert.equal(await readBackBytes(), before);
  });

  it('reads back once at CLOSE an upload that rewrote what it had written: the recorded sha256 is the file’s', async () => {
    const before = await readBackBytes();
    const payload = randomBytes(128 * 1024);
    await writeFile(path.join(work, 'backwards.bin'), payload);
    const script = `${SIGNED_IN}
data = open(sys.argv[5], "rb").read()
f = s.open("backwards.bin", "wb")
f.set_pipelined(False)
f.write(bytes(65536)); f.write(data[65536:]); f.flush()
f.seek(0); f.write(data[:65536]); f.flush()
f.close()
t.close()
`;
    const result = await paramiko(
      script,
      t.sluice.sftpPort,
      'quinn',
      PASSWORD,
      path.join(work, 'backwards.bin'),
    );
    assert.equal(result.code, 0, result.stderr);
    const [uploaded] = await rows(
      "SELECT data FROM events WHERE type = 'FileUploaded' AND data->>'path' = '/backwards.bin'",
    );
    assert.equal(
      (uploaded?.data as { sha256?: string } | undefined)?.sha256,
      createHash('sha256').update(payload).digest('hex'),
    );
    assert.equal(await readBackBytes(), before + payload.length);
  });

  it('refuses what would pass the user’s quota (2 MiB, 1 MiB stored): over SFTP and HTTP, nothing left on disk', async () => {
    await writeFile(path.join(work, 'over.bin'), randomBytes(1536 * 1024));
    const script = `${SIGNED_IN}
data = open(sys.argv[5], "rb").read()
f = s.open("over.bin", "wb")
f.set_pipelined(False)
try:
    for i in range(0, len(data), 32768):
        f.write(data[i:i + 32768]); f.flush()
    print("put done")
except IOError as e:
    print("put refused", e)
${CLOSE_AND_LIST}`;
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
