/**
 * An upload's CLOSE against a folder changed while it was written (paramiko): the folder it was
 * going into was removed by the same user meanwhile. The upload is refused before its
 * FileUploaded is recorded: the log holds only UploadAborted, and nothing is left on disk.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { paramiko } from '../support/sftp-clients.js';
import { adminSession, call, startTestSluice, type TestSluice } from '../support/sluice.js';

const PASSWORD = 'upload-commit-password';
let t: TestSluice;

before(async () => {
  t = await startTestSluice();
  const res = await call(t.base, 'POST', '/api/v1/users', {
    token: await adminSession(t.base),
    body: { userName: 'ivo', emailAddress: 'ivo@example.com', password: PASSWORD },
  });
  assert.equal(res.status, 201);
});

after(async () => {
  await t.stop();
});

describe('committing an upload', () => {
  it('refuses an upload whose folder was removed while it was written: UploadAborted only, nothing kept', async () => {
    const script = `
import sys, paramiko
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
t = paramiko.Transport((host, port)); t.connect(username=user, password=password)
s = paramiko.SFTPClient.from_transport(t)
s.mkdir("inbox")
f = s.open("inbox/report.csv", "wb")
f.set_pipelined(False)
f.write(b"a,b\\n" * 1000); f.flush()
s.rmdir("inbox")
f.close()  # paramiko passes over a refused CLOSE
print("list", sorted(s.listdir(".")))
t.close()
`;
    const result = await paramiko(script, t.sluice.sftpPort, 'ivo', PASSWORD);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^list \[\]$/m);
    const { pool } = t.database.open({ max: 1 });
    const recorded = await pool.query(
      "SELECT type, data->>'reason' AS reason FROM events WHERE data->>'path' = '/inbox/report.csv' ORDER BY global_position",
    );
    assert.deepEqual(
      recorded.rows.map((r: { type: string; reason: string }) => [r.type, r.reason]),
      [['UploadAborted', '/inbox: the folder is no longer there']],
    );
    assert.deepEqual(
      (await readdir(path.join(t.dataDir, 'uploads'))).filter((n) => !n.startsWith('.')),
      [],
    );
  });
});
