/**
 * The HTTP file API with curl: the same core as SFTP (paths, permissions, staged uploads,
 * events), the external userString on every transfer, and files crossing protocols.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { curl } from '../support/curl.js';
import { openSshBatch, paramiko } from '../support/sftp-clients.js';
import { adminSession, call, startTestSluice, type TestSluice } from '../support/sluice.js';

const run = promisify(execFile);
let t: TestSluice;
let admin: string;
let work: string;
const PASSWORD = 'files-test-password';
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function events(
  type: string,
): Promise<Array<{ data: Record<string, unknown>; metadata: { actor: Record<string, unknown> } }>> {
  const { pool } = t.database.open({ max: 1 });
  return (
    await pool.query('SELECT data, metadata FROM events WHERE type = $1 ORDER BY global_position', [type])
  ).rows;
}

async function session(userName: string, applicationId = 2): Promise<string> {
  const res = await call<{ sessionId: string; token: string }>(
    t.base,
    'POST',
    '/api/v1/sessions/open-immutable',
    {
      body: { userName, password: PASSWORD, applicationId },
    },
  );
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.token;
}

const auth = (token: string) => ['-H', `authorization: Bearer ${token}`];

before(async () => {
  t = await startTestSluice({ env: { MFT_HTTP_MAX_UPLOAD_BYTES: String(200 * 1024 * 1024) } });
  admin = await adminSession(t.base);
  work = await mkdtemp(path.join(os.tmpdir(), 'sluice-http-'));
  for (const [userName, extra] of [
    ['hana', { rights: [] }],
    ['svc', { rights: ['impersonate'] }],
    ['viewer', { permissions: [{ path: '/', permissions: ['list', 'download'] }] }],
  ] as const) {
    const res = await call(t.base, 'POST', '/api/v1/users', {
      token: admin,
      body: { userName, emailAddress: `${userName}@example.com`, password: PASSWORD, ...extra },
    });
    assert.equal(res.status, 201);
  }
  assert.equal(
    (
      await call(t.base, 'POST', '/api/v1/applications', {
        token: admin,
        body: { applicationId: 1000, name: 'Portal' },
      })
    ).status,
    201,
  );
});

after(async () => {
  await t.stop();
  await rm(work, { recursive: true, force: true });
});

describe('HTTP files with curl', () => {
  it('uploads and downloads 100 MiB, streamed, with the sha256 right on both ends', async () => {
    const token = await session('hana');
    const file = path.join(work, 'big.bin');
    const handle = await open(file, 'w');
    for (let i = 0; i < 100; i++) await handle.write(randomBytes(1024 * 1024));
    await handle.close();
    const { stdout: localSum } = await run('sha256sum', [file]);
    const expected = localSum.split(' ')[0]!;

    const up = await curl([...auth(token), '-T', file, `${t.base}/api/v1/files/in/big.bin`]);
    assert.equal(up.status, 404, 'no folder /in yet');
    assert.equal((await curl([...auth(token), '-X', 'POST', `${t.base}/api/v1/folders/in`])).status, 201);
    const uploaded = await curl([...auth(token), '-T', file, `${t.base}/api/v1/files/in/big.bin`]);
    assert.equal(uploaded.status, 201, uploaded.body);
    assert.equal(uploaded.json<{ sha256: string }>().sha256, expected);
    assert.equal(uploaded.headers.etag, `"${expected}"`);

    const back = path.join(work, 'big.back');
    const down = await curl([...auth(token), '-o', back, `${t.base}/api/v1/files/in/big.bin`]);
    assert.equal(down.status, 200);
    assert.equal((await run('sha256sum', [back])).stdout.split(' ')[0], expected);
    const event = (await events('FileUploaded')).find((e) => e.data.path === '/in/big.bin');
    assert.equal(event?.data.sha256, expected);
    assert.equal(event?.data.protocol, 'http');
    assert.equal(event?.metadata.actor.applicationId, 2);
    const downloaded = (await events('FileDownloaded')).find((e) => e.data.path === '/in/big.bin');
    assert.equal(downloaded?.data.whole, true);
    assert.equal(downloaded?.data.sha256, expected);

    const head = await curl([...auth(token), '-I', `${t.base}/api/v1/files/in/big.bin`]);
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(100 * 1024 * 1024));
    assert.equal(head.headers['accept-ranges'], 'bytes');
  });

  it('serves byte ranges, refuses an overwrite with If-None-Match: *, and checks Content-Digest', async () => {
    const token = await session('hana');
    const data = randomBytes(10_000);
    await writeFile(path.join(work, 'r.bin'), data);
    assert.equal(
      (await curl([...auth(token), '-T', path.join(work, 'r.bin'), `${t.base}/api/v1/files/r.bin`])).status,
      201,
    );
    const range = await curl([
      ...auth(token),
      '-H',
      'range: bytes=100-199',
      '-o',
      path.join(work, 'range.bin'),
      `${t.base}/api/v1/files/r.bin`,
    ]);
    assert.equal(range.status, 206);
    assert.equal(range.headers['content-range'], 'bytes 100-199/10000');
    assert.deepEqual(await readFile(path.join(work, 'range.bin')), data.subarray(100, 200));
    const ranged = (await events('FileDownloaded')).find(
      (e) => e.data.path === '/r.bin' && e.data.whole === false,
    );
    assert.equal(ranged?.data.offset, 100);
    assert.equal(ranged?.data.bytesSent, 100);
    const beyond = await curl([...auth(token), '-H', 'range: bytes=20000-', `${t.base}/api/v1/files/r.bin`]);
    assert.equal(beyond.status, 416);

    const refused = await curl([
      ...auth(token),
      '-H',
      'if-none-match: *',
      '-T',
      path.join(work, 'r.bin'),
      `${t.base}/api/v1/files/r.bin`,
    ]);
    assert.equal(refused.status, 412);
    assert.equal(refused.json<{ type: string }>().type, '/problems/already-exists');
    const replaced = await curl([
      ...auth(token),
      '-T',
      path.join(work, 'r.bin'),
      `${t.base}/api/v1/files/r.bin`,
    ]);
    assert.equal(replaced.status, 200);
    assert.equal(replaced.json<{ overwrote: boolean }>().overwrote, true);

    const good = `sha-256=:${createHash('sha256').update(data).digest('base64')}:`;
    const withDigest = await curl([
      ...auth(token),
      '-H',
      `content-digest: ${good}`,
      '-T',
      path.join(work, 'r.bin'),
      `${t.base}/api/v1/files/digested.bin`,
    ]);
    assert.equal(withDigest.status, 201);
    const wrong = `sha-256=:${createHash('sha256').update('something else').digest('base64')}:`;
    const mismatch = await curl([
      ...auth(token),
      '-H',
      `content-digest: ${wrong}`,
      '-T',
      path.join(work, 'r.bin'),
      `${t.base}/api/v1/files/mismatch.bin`,
    ]);
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.json<{ type: string }>().type, '/problems/digest-mismatch');
    const legacy = await curl([
      ...auth(token),
      '-H',
      `digest: SHA-256=${createHash('sha256').update('x').digest('base64')}`,
      '-T',
      path.join(work, 'r.bin'),
      `${t.base}/api/v1/files/legacy.bin`,
    ]);
    assert.equal(legacy.status, 400);
    assert.equal(existsSync(path.join(t.dataDir, 'files', 'hana', 'mismatch.bin')), false);
    assert.ok((await events('UploadAborted')).some((e) => e.data.path === '/mismatch.bin'));
  });

  it('answers with ETag = sha256 once the files view knows the file, and 304 for If-None-Match', async () => {
    const token = await session('hana');
    const data = randomBytes(4096);
    await writeFile(path.join(work, 'etag.bin'), data);
    const put = await curl([
      ...auth(token),
      '-T',
      path.join(work, 'etag.bin'),
      `${t.base}/api/v1/files/etag.bin`,
    ]);
    assert.equal(put.status, 201);
    const expected = `"${sha256(data)}"`;
    let head = await curl([...auth(token), '-I', `${t.base}/api/v1/files/etag.bin`]);
    for (let i = 0; i < 50 && head.headers.etag === undefined; i++) {
      await new Promise((r) => setTimeout(r, 100));
      head = await curl([...auth(token), '-I', `${t.base}/api/v1/files/etag.bin`]);
    }
    assert.equal(head.headers.etag, expected);
    const cached = await curl([
      ...auth(token),
      '-H',
      `if-none-match: ${expected}`,
      `${t.base}/api/v1/files/etag.bin`,
    ]);
    assert.equal(cached.status, 304);
    // Moved: the view follows the file to its new name.
    assert.equal(
      (
        await curl([
          ...auth(token),
          '-H',
          'content-type: application/json',
          '-d',
          '{"from":"/etag.bin","to":"/etag-moved.bin"}',
          `${t.base}/api/v1/moves`,
        ])
      ).status,
      200,
    );
    let moved = await curl([...auth(token), '-I', `${t.base}/api/v1/files/etag-moved.bin`]);
    for (let i = 0; i < 50 && moved.headers.etag === undefined; i++) {
      await new Promise((r) => setTimeout(r, 100));
      moved = await curl([...auth(token), '-I', `${t.base}/api/v1/files/etag-moved.bin`]);
    }
    assert.equal(moved.headers.etag, expected);
  });

  it('refuses traversal however the URL encodes it, and NUL bytes', async () => {
    const token = await session('hana');
    const secret = path.join(t.dataDir, 'files', 'top-secret.txt');
    await writeFile(secret, 'secret');
    for (const url of [
      '%2e%2e/top-secret.txt',
      '..%2ftop-secret.txt',
      '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      'a%00b',
      '%2E%2E/%2E%2E/top-secret.txt',
    ]) {
      const res = await curl(['--path-as-is', ...auth(token), `${t.base}/api/v1/files/${url}`]);
      assert.ok([400, 403].includes(res.status), `${url}: ${res.status}`);
      assert.doesNotMatch(res.body, /^secret$/);
    }
    // Double encoding is a literal name, not a climb.
    const doubled = await curl([
      '--path-as-is',
      ...auth(token),
      `${t.base}/api/v1/files/%252e%252e/top-secret.txt`,
    ]);
    assert.equal(doubled.status, 404);
    const put = await curl([
      '--path-as-is',
      ...auth(token),
      '-T',
      path.join(work, 'r.bin'),
      `${t.base}/api/v1/files/%2e%2e/planted.txt`,
    ]);
    assert.ok([400, 403].includes(put.status));
    assert.equal(existsSync(path.join(t.dataDir, 'files', 'planted.txt')), false);
    assert.ok(
      (await events('AccessDenied')).some((e) => String(e.data.reason).includes('climbs above the root')),
    );
  });

  it('denies what the user’s permissions do not allow, and records it', async () => {
    const token = await session('viewer');
    const res = await curl([
      ...auth(token),
      '-T',
      path.join(work, 'r.bin'),
      `${t.base}/api/v1/files/nope.bin`,
    ]);
    assert.equal(res.status, 403);
    assert.equal(res.json<{ type: string }>().type, '/problems/permission-denied');
    assert.ok(
      (await events('AccessDenied')).some(
        (e) => e.data.operation === 'upload' && e.data.path === '/nope.bin' && e.data.protocol === 'http',
      ),
    );
    assert.equal((await curl([...auth(token), `${t.base}/api/v1/folders/`])).status, 200);
  });

  it('a client that disconnects mid-upload leaves no partial file, and UploadAborted is recorded', async () => {
    const token = await session('hana');
    const url = new URL(`${t.base}/api/v1/files/cut.bin`);
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(Number(url.port), url.hostname, () => {
        socket.write(
          `PUT ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/octet-stream\r\nContent-Length: 10000000\r\n\r\n`,
        );
        socket.write(randomBytes(3_000_000), () => setTimeout(() => socket.destroy(), 200));
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    for (
      let i = 0;
      i < 100 && !(await events('UploadAborted')).some((e) => e.data.path === '/cut.bin');
      i++
    ) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const aborted = (await events('UploadAborted')).find((e) => e.data.path === '/cut.bin');
    assert.ok(aborted, 'UploadAborted recorded');
    assert.ok(Number(aborted.data.bytesReceived) > 0);
    assert.equal(existsSync(path.join(t.dataDir, 'files', 'hana', 'cut.bin')), false);
    assert.deepEqual(await readdir(path.join(t.dataDir, 'uploads')), []);
  });

  it('refuses uploads over the configured size', async () => {
    const token = await session('hana');
    const url = new URL(`${t.base}/api/v1/files/huge.bin`);
    const declared = await curl([
      ...auth(token),
      '-X',
      'PUT',
      '-H',
      `content-length: ${300 * 1024 * 1024}`,
      '--data-binary',
      'x',
      '--max-time',
      '5',
      url.href,
    ]).catch(() => undefined);
    assert.ok(declared === undefined || declared.status === 413);
    assert.equal(existsSync(path.join(t.dataDir, 'files', 'hana', 'huge.bin')), false);
  });
});

describe('the external userString', () => {
  it('is on every upload, download and delete of an OpenImmutableUserString session, and not on the user’s own', async () => {
    const service = await session('svc', 1000);
    const hanaId = (
      await call<{ userId: number }>(t.base, 'GET', '/api/v1/sessions/current', {
        token: await session('hana'),
      })
    ).body.userId;
    const external = await call<{ sessionId: string; token: string }>(
      t.base,
      'POST',
      '/api/v1/sessions/open-immutable-user-string',
      {
        token: service,
        body: {
          userId: hanaId,
          applicationId: 1000,
          ipAddress: '203.0.113.50',
          userString: 'Jane "X", Partner\nCorp',
        },
      },
    );
    assert.equal(external.status, 201);
    const x = external.body.token;
    const xId = external.body.sessionId;
    await writeFile(path.join(work, 'x.txt'), 'for X');
    assert.equal(
      (await curl([...auth(x), '-T', path.join(work, 'x.txt'), `${t.base}/api/v1/files/x.txt`])).status,
      201,
    );
    assert.equal((await curl([...auth(x), `${t.base}/api/v1/files/x.txt`])).status, 200);
    assert.equal((await curl([...auth(x), '-X', 'DELETE', `${t.base}/api/v1/files/x.txt`])).status, 204);

    const own = await session('hana');
    assert.equal(
      (await curl([...auth(own), '-T', path.join(work, 'x.txt'), `${t.base}/api/v1/files/own.txt`])).status,
      201,
    );

    for (const type of ['FileUploaded', 'FileDownloaded', 'FileDeleted']) {
      const event = (await events(type)).find((e) => e.data.path === '/x.txt');
      assert.equal(event?.metadata.actor.userString, 'Jane "X", Partner\nCorp', type);
      assert.equal(event?.metadata.actor.sessionId, xId);
      assert.equal(event?.metadata.actor.applicationId, 1000);
    }
    const ownUpload = (await events('FileUploaded')).find((e) => e.data.path === '/own.txt');
    assert.equal(ownUpload?.metadata.actor.userString, undefined);
  });
});

describe('across protocols', () => {
  it('records every download of an empty file (curl GET, OpenSSH sftp, paramiko), and no HEAD', async () => {
    const token = await session('hana');
    await writeFile(path.join(work, 'empty.bin'), Buffer.alloc(0));
    const put = await curl([
      ...auth(token),
      '-T',
      path.join(work, 'empty.bin'),
      `${t.base}/api/v1/files/empty.bin`,
    ]);
    assert.equal(put.status, 201);
    const get = await curl([
      ...auth(token),
      '-o',
      path.join(work, 'empty.http'),
      `${t.base}/api/v1/files/empty.bin`,
    ]);
    assert.equal(get.status, 200);
    assert.equal(get.headers['content-length'], '0');
    assert.equal((await curl([...auth(token), '-I', `${t.base}/api/v1/files/empty.bin`])).status, 200);
    const batch = await openSshBatch(t.sluice.sftpPort, 'hana', { password: PASSWORD }, [
      `get empty.bin ${work}/empty.sftp`,
    ]);
    assert.equal(batch.code, 0, batch.stderr);
    const script = `
import sys, paramiko
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
t = paramiko.Transport((host, port)); t.connect(username=user, password=password)
s = paramiko.SFTPClient.from_transport(t)
s.get("empty.bin", sys.argv[5])
t.close()
`;
    const py = await paramiko(script, t.sluice.sftpPort, 'hana', PASSWORD, path.join(work, 'empty.py'));
    assert.equal(py.code, 0, py.stderr);
    for (const copy of ['empty.http', 'empty.sftp', 'empty.py'])
      assert.equal((await readFile(path.join(work, copy))).length, 0, copy);
    const downloads = (await events('FileDownloaded')).filter((e) => e.data.path === '/empty.bin');
    assert.deepEqual(
      downloads.map((e) => e.data),
      ['http', 'sftp', 'sftp'].map((protocol) => ({
        protocol,
        path: '/empty.bin',
        bytesSent: 0,
        whole: true,
        offset: 0,
        sha256: sha256(Buffer.alloc(0)),
      })),
    );
  });

  it('a file uploaded over HTTP downloads over SFTP byte-identical, and the other way round', async () => {
    const token = await session('hana');
    const viaHttp = randomBytes(1_234_567);
    await writeFile(path.join(work, 'via-http.bin'), viaHttp);
    assert.equal(
      (
        await curl([
          ...auth(token),
          '-T',
          path.join(work, 'via-http.bin'),
          `${t.base}/api/v1/files/via-http.bin`,
        ])
      ).status,
      201,
    );
    const viaSftp = randomBytes(765_432);
    await writeFile(path.join(work, 'via-sftp.bin'), viaSftp);
    const result = await openSshBatch(t.sluice.sftpPort, 'hana', { password: PASSWORD }, [
      `get via-http.bin ${work}/via-http.back`,
      `put ${work}/via-sftp.bin via-sftp.bin`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await readFile(path.join(work, 'via-http.back')), viaHttp);
    const back = await curl([
      ...auth(token),
      '-o',
      path.join(work, 'via-sftp.back'),
      `${t.base}/api/v1/files/via-sftp.bin`,
    ]);
    assert.equal(back.status, 200);
    assert.equal(sha256(await readFile(path.join(work, 'via-sftp.back'))), sha256(viaSftp));
  });
});
