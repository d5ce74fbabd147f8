/**
 * FTPS with real clients — lftp (ftp:ssl-force), curl (--ssl-reqd, and implicit ftps://) and
 * Python's ftplib.FTP_TLS (PROT P) — over the file core: upload, download, resume both ways,
 * rename, delete, folders, MLSD listing; plain-text sign-in and unprotected transfers refused;
 * traversal refused and recorded; every event with protocol ftps, as the audit API shows; the
 * user's connections share one FTPS session; data connections resume the TLS session.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AuditItemBody } from '../../src/api/audit/schemas.js';
import { curlFtp, ftplib, lftpFtps } from '../support/ftps-clients.js';
import { metricSamples } from '../support/metrics.js';
import { adminSession, call, createUser, startTestSluice, type TestSluice } from '../support/sluice.js';

const PASSWORD = 'ftps-user-password';
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

let t: TestSluice;
let admin: string;
let userId: number;
let work: string;
let home: string;
let explicit: number;
let implicit: number;

const big = randomBytes(3 * 1024 * 1024 + 11);

async function events(
  type: string,
): Promise<Array<{ data: Record<string, unknown>; metadata: Record<string, unknown> }>> {
  const { pool } = t.database.open({ max: 1 });
  return (
    await pool.query('SELECT data, metadata FROM events WHERE type = $1 ORDER BY global_position', [type])
  ).rows;
}

const url = (name = '') => `ftp://ft:${PASSWORD}@127.0.0.1:${explicit}/${name}`;
/** An ftplib script signed in as `ft` (see test/support/ftps-clients.ts). */
const asFt = (body: string) => ftplib(explicit, 'ft', PASSWORD, body);
const ok = (result: { code: number | null; stdout: string; stderr: string }) =>
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);

before(async () => {
  t = await startTestSluice();
  admin = await adminSession(t.base);
  userId = await createUser(t.base, admin, {
    userName: 'ft',
    emailAddress: 'ft@example.com',
    password: PASSWORD,
  });
  home = path.join(t.dataDir, 'files', 'ft');
  work = await mkdtemp(path.join(os.tmpdir(), 'sluice-ftps-'));
  await writeFile(path.join(work, 'big.bin'), big);
  const ports = t.sluice.ftpsPorts;
  assert.ok(ports.port !== null && ports.implicitPort !== null);
  explicit = ports.port;
  implicit = ports.implicitPort;
});

after(async () => {
  await t.stop();
  await rm(work, { recursive: true, force: true });
});

describe('FTPS with real clients', () => {
  it('lftp: put, get, resume both ways, mv, rm, mkdir, rmdir and an MLSD listing', async () => {
    // Half of the file first, then `put -c` finishes it (SIZE, then REST + STOR).
    await writeFile(path.join(work, 'half.bin'), big.subarray(0, 1024 * 1024));
    ok(await lftpFtps(explicit, 'ft', PASSWORD, [`put ${work}/half.bin -o lf.bin`]));
    ok(
      await lftpFtps(explicit, 'ft', PASSWORD, [
        `put -c ${work}/big.bin -o lf.bin`,
        'mkdir lfdir',
        'mv lf.bin lfdir/moved.bin',
        `get lfdir/moved.bin -o ${work}/lf.back`,
        'cls -l lfdir',
      ]),
    );
    assert.equal(sha256(await readFile(path.join(home, 'lfdir/moved.bin'))), sha256(big));
    assert.equal(sha256(await readFile(path.join(work, 'lf.back'))), sha256(big));
    // A partial local copy, finished by `get -c` (REST + RETR).
    await writeFile(path.join(work, 'partial.back'), big.subarray(0, 777_777));
    const listed = await lftpFtps(explicit, 'ft', PASSWORD, [
      `get -c lfdir/moved.bin -o ${work}/partial.back`,
      'cls -l lfdir',
      'rm lfdir/moved.bin',
      'rmdir lfdir',
      'cls -1',
    ]);
    ok(listed);
    assert.match(listed.stdout, /moved\.bin/);
    assert.equal(sha256(await readFile(path.join(work, 'partial.back'))), sha256(big));
    assert.equal(existsSync(path.join(home, 'lfdir')), false);
    const downloads = await events('FileDownloaded');
    assert.ok(downloads.some((e) => e.data.offset === 777_777 && e.data.whole === false));
  });

  it('curl --ssl-reqd and implicit ftps://: upload, download, resume, listing, rename and delete', async () => {
    ok(await curlFtp(['--ssl-reqd', '-T', path.join(work, 'big.bin'), url('curl.bin')]));
    ok(await curlFtp(['--ssl-reqd', '-o', path.join(work, 'curl.back'), url('curl.bin')]));
    assert.equal(sha256(await readFile(path.join(work, 'curl.back'))), sha256(big));
    // Implicit TLS: the same file from the other listener, resumed from where a copy stops.
    await writeFile(path.join(work, 'curl.part'), big.subarray(0, 100_000));
    ok(
      await curlFtp([
        '-C',
        '-',
        '-o',
        path.join(work, 'curl.part'),
        `ftps://ft:${PASSWORD}@127.0.0.1:${implicit}/curl.bin`,
      ]),
    );
    assert.equal(sha256(await readFile(path.join(work, 'curl.part'))), sha256(big));
    // An upload resumed with -C - (SIZE, then APPE); its start over --ftp-ssl and TLS 1.2 (alerts in clear).
    await writeFile(path.join(work, 'start.bin'), big.subarray(0, 2_000_000));
    ok(
      await curlFtp([
        '--ftp-ssl',
        '--ssl-reqd',
        '--tls-max',
        '1.2',
        '-T',
        path.join(work, 'start.bin'),
        url('resumed.bin'),
      ]),
    );
    ok(await curlFtp(['--ssl-reqd', '-C', '-', '-T', path.join(work, 'big.bin'), url('resumed.bin')]));
    assert.equal(sha256(await readFile(path.join(home, 'resumed.bin'))), sha256(big));
    const listing = await curlFtp(['--ssl-reqd', url()]);
    ok(listing);
    assert.match(listing.stdout, /curl\.bin/);
    const names = await curlFtp(['--ssl-reqd', '--list-only', url()]);
    assert.deepEqual(names.stdout.trim().split(/\r?\n/).sort(), ['curl.bin', 'resumed.bin']);
    ok(
      await curlFtp([
        '--ssl-reqd',
        '-Q',
        'RNFR curl.bin',
        '-Q',
        'RNTO renamed.bin',
        '-Q',
        'DELE resumed.bin',
        url(),
      ]),
    );
    assert.equal(existsSync(path.join(home, 'renamed.bin')), true);
    assert.equal(existsSync(path.join(home, 'resumed.bin')), false);
  });

  it('ftplib.FTP_TLS: STOR, REST + RETR, APPE, REST + STOR, MLSD, MLST, SIZE, MDTM; its data connections resume the TLS session', async () => {
    const before = await metricSamples(t.base, 'sluice_ftps_data_connections_total');
    const result = await asFt(`
f = signed_in()
f.storbinary('STOR py.bin', io.BytesIO(b'0123456789'))
buf = io.BytesIO(); f.retrbinary('RETR py.bin', buf.write, rest=4); print('rest', buf.getvalue().decode())
f.sendcmd('REST 7')
conn = f.transfercmd('RETR py.bin')  # PASV between REST and RETR
print('rest-pasv', conn.recv(100).decode()); conn.unwrap(); conn.close(); f.voidresp()
f.storbinary('APPE py.bin', io.BytesIO(b'abc'))
f.storbinary('STOR py.bin', io.BytesIO(b'XYZ'), rest=13)
buf = io.BytesIO(); f.retrbinary('RETR py.bin', buf.write); print('whole', buf.getvalue().decode())
print('size', f.size('py.bin'))
print('mdtm', f.sendcmd('MDTM py.bin')[:4])
print('mlst', f.sendcmd('MLST py.bin').splitlines()[1].strip())
f.mkd('pydir'); f.cwd('pydir'); print('pwd', f.pwd()); f.cwd('..')
for name, facts in f.mlsd():
    print('mlsd', name, facts['type'], facts.get('size', '-'))
f.rmd('pydir')
f.quit()
`);
    ok(result);
    const lines = result.stdout.split('\n');
    assert.ok(lines.includes('rest 456789'));
    assert.ok(lines.includes('rest-pasv 789'));
    assert.ok(lines.includes('whole 0123456789abcXYZ'));
    assert.ok(lines.includes('size 16'));
    assert.ok(lines.includes('mdtm 213 '));
    assert.match(result.stdout, /^mlst type=file;size=16;modify=\d{14};unix\.mode=0\d+; \/py\.bin$/m);
    assert.ok(lines.includes('pwd /pydir'));
    assert.ok(lines.includes('mlsd py.bin file 16'));
    assert.ok(lines.includes('mlsd pydir dir -'));
    assert.equal(await readFile(path.join(home, 'py.bin'), 'utf8'), '0123456789abcXYZ');
    const afterwards = await metricSamples(t.base, 'sluice_ftps_data_connections_total');
    const resumed =
      (afterwards['sluice_ftps_data_connections_total{tls_resumed="true"}'] ?? 0) -
      (before['sluice_ftps_data_connections_total{tls_resumed="true"}'] ?? 0);
    const full =
      (afterwards['sluice_ftps_data_connections_total{tls_resumed="false"}'] ?? 0) -
      (before['sluice_ftps_data_connections_total{tls_resumed="false"}'] ?? 0);
    assert.equal(resumed, 7, 'seven data connections (six transfers and MLSD) resumed the session');
    assert.equal(full, 0);
  });

  it('refuses USER and PASS before AUTH TLS, and transfers before PROT P, recording no sign-in', async () => {
    const opened = (await events('SessionOpened')).length;
    const result = await asFt(`
plain = ftplib.FTP(timeout=30)
plain.connect(host, port)
try:
    plain.login(user, password)
except ftplib.error_perm as e:
    print('plain', e)
f = signed_in(protect=False)
try:
    f.retrbinary('RETR py.bin', print)
except ftplib.error_perm as e:
    print('unprotected', e)
f.sendcmd('PBSZ 0')
try:
    f.sendcmd('PROT C')
except ftplib.error_perm as e:
    print('prot c', e)
`);
    ok(result);
    assert.match(result.stdout, /^plain 530 Plain-text sign-in is refused: send AUTH TLS first$/m);
    assert.match(result.stdout, /^unprotected 521 /m);
    assert.match(result.stdout, /^prot c 534 /m);
    // curl without TLS is turned away at USER.
    const clear = await curlFtp([url('py.bin')]);
    assert.notEqual(clear.code, 0);
    // The refused plain-text attempt opened nothing; the TLS one reused the user's FTPS session.
    const sessions = (await events('SessionOpened')).slice(opened);
    assert.equal(sessions.length, 0);
  });

  it('refuses traversal through the core, which records each refusal; nothing outside the home is touched', async () => {
    const outside = path.join(t.dataDir, 'files', 'escaped.txt');
    const result = await asFt(`
f = signed_in()
for cmd in ['RETR ../../etc/passwd', 'STOR ../escaped.txt', 'CWD ../..', 'MKD /../escaped', 'DELE ../../x', 'RNFR /../ft/py.bin']:
    try:
        if cmd.startswith('RETR'):
            f.retrbinary(cmd, print)
        elif cmd.startswith('STOR'):
            f.storbinary(cmd, io.BytesIO(b'x'))
        else:
            f.sendcmd(cmd)
        print('allowed', cmd)
    except ftplib.error_perm as e:
        print('refused', cmd, str(e)[:3])
`);
    ok(result);
    assert.doesNotMatch(result.stdout, /allowed/);
    assert.equal(result.stdout.match(/^refused .* 553$/gm)?.length, 6, result.stdout);
    assert.equal(existsSync(outside), false);
    const denied = (await events('AccessDenied')).filter((e) => e.data.protocol === 'ftps');
    assert.ok(denied.length >= 6);
    assert.ok(denied.some((e) => e.data.path === '/../../etc/passwd'));
  });

  it('an upload whose data connection ends without TLS close_notify leaves no file and is recorded as aborted', async () => {
    const result = await asFt(`
import os, socket
f = signed_in()
conn = f.transfercmd('STOR cut.bin')
conn.sendall(b'x' * 300000)
# The process dies here: its kernel closes the TCP connection, TLS never says goodbye.
raw = socket.socket(fileno=os.dup(conn.fileno()))
raw.shutdown(socket.SHUT_RDWR)
raw.close()
try:
    print('reply', f.voidresp())
except ftplib.all_errors as e:
    print('reply', e)
`);
    ok(result);
    assert.match(result.stdout, /^reply 426 /m);
    assert.equal(existsSync(path.join(home, 'cut.bin')), false);
    const aborted = (await events('UploadAborted')).filter((e) => e.data.path === '/cut.bin');
    assert.equal(aborted.length, 1);
    assert.match(String(aborted[0]?.data.reason), /close_notify/);
    assert.equal((await events('FileUploaded')).filter((e) => e.data.path === '/cut.bin').length, 0);
  });

  it('ABOR cuts a running download; the connection goes on, and the download is recorded', async () => {
    const before = (await events('FileDownloaded')).filter((e) => e.data.path === '/renamed.bin').length;
    const result = await asFt(`
f = signed_in()
conn = f.transfercmd('RETR renamed.bin')
conn.recv(1000)
print('abort', f.abort()[:3])
print('abor', f.getline())
conn.close()
print('noop', f.sendcmd('NOOP'))
`);
    ok(result);
    assert.match(result.stdout, /^abort (426|226)$/m);
    assert.match(result.stdout, /^abor 226 ABOR done$/m);
    assert.match(result.stdout, /^noop 200 OK$/m);
    const after = (await events('FileDownloaded')).filter((e) => e.data.path === '/renamed.bin').length;
    assert.equal(after, before + 1);
  });

  it('a wrong password is refused and recorded on application 4; connections of one user share one session', async () => {
    const wrong = await ftplib(
      explicit,
      'ft',
      'not-the-password',
      `
try:
    signed_in()
except ftplib.error_perm as e:
    print('refused', e)
`,
    );
    ok(wrong);
    assert.match(wrong.stdout, /^refused 530 Sign-in failed$/m);
    const failed = await events('SignInFailed');
    assert.ok(
      failed.some(
        (e) =>
          e.data.userName === 'ft' && e.data.applicationId === 4 && e.data.reason === 'invalid-credentials',
      ),
    );
    const opened = (await events('ConnectionOpened')).filter((e) => e.data.protocol === 'ftps');
    assert.ok(opened.length >= 5);
    assert.equal(new Set(opened.map((e) => e.data.sessionId)).size, 1);
  });

  it('answers a control line past 4,096 bytes with 500, drops it whole, and goes on', async () => {
    const result = await asFt(`
f = signed_in()
f.sock.sendall(b'NOOP ' + b'A' * 5000 + b'\\r\\n')
print('long', f.getline())
print('next', f.sendcmd('NOOP'))
`);
    ok(result);
    assert.match(result.stdout, /^long 500 Line too long$/m);
    assert.match(result.stdout, /^next 200 OK$/m);
  });

  it('cuts an open FTPS connection when its user’s password changes, and records why', async () => {
    const cutId = await createUser(t.base, admin, {
      userName: 'cutme',
      emailAddress: 'cutme@example.com',
      password: PASSWORD,
    });
    const before = (await events('ConnectionOpened')).length;
    const client = ftplib(
      explicit,
      'cutme',
      PASSWORD,
      `
import time
f = signed_in()
print('connected', flush=True)
try:
    for _ in range(300):
        f.voidcmd('NOOP')
        time.sleep(0.1)
    print('never cut')
except ftplib.all_errors:
    print('cut')
`,
    );
    for (let i = 0; (await events('ConnectionOpened')).length === before; i++) {
      assert.ok(i < 200, 'the connection is recorded');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const res = await call(t.base, 'PATCH', `/api/v1/users/${cutId}`, {
      token: admin,
      body: { password: 'a new password 2' },
    });
    assert.equal(res.status, 200);
    const result = await client;
    assert.match(result.stdout, /connected\ncut/, result.stderr);
    const closed = (await events('ConnectionClosed')).filter(
      (e) => e.data.protocol === 'ftps' && e.data.userId === cutId,
    );
    assert.deepEqual(
      closed.map((e) => e.data.reason),
      ['password changed'],
    );
  });

  it('shows every file event of the user with protocol ftps in the audit API', async () => {
    const { pool } = t.database.open({ max: 1 });
    const head = Number((await pool.query('SELECT max(global_position) AS head FROM events')).rows[0].head);
    assert.ok(await t.sluice.runner.waitForPosition(head, 20_000));
    const items: AuditItemBody[] = [];
    for (let cursor: string | null = ''; cursor !== null; ) {
      const res: { status: number; body: { items: AuditItemBody[]; nextCursor: string | null } } = await call(
        t.base,
        'GET',
        `/api/v1/audit/events?userId=${userId}&order=asc&limit=500${cursor ? `&cursor=${cursor}` : ''}`,
        { token: admin },
      );
      assert.equal(res.status, 200);
      items.push(...res.body.items);
      cursor = res.body.nextCursor;
    }
    const withProtocol = items.filter((i) => i.protocol !== null);
    assert.ok(withProtocol.length > 20);
    assert.deepEqual([...new Set(withProtocol.map((i) => i.protocol))], ['ftps']);
    const types = new Set(withProtocol.map((i) => i.eventType));
    for (const type of [
      'FileUploaded',
      'FileDownloaded',
      'FileRenamed',
      'FileDeleted',
      'DirectoryCreated',
      'DirectoryRemoved',
      'AccessDenied',
      'ConnectionOpened',
      'ConnectionClosed',
    ])
      assert.ok(types.has(type), `${type} in the audit view`);
    assert.ok(withProtocol.every((i) => i.applicationId === 4));
  });
});
