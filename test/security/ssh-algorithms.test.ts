/**
 * SSH protocol hygiene against real clients: no `ssh-rsa` (SHA-1) or `ssh-dss` host-key
 * signatures, a `server-sig-algs` that lists exactly what user authentication accepts, and an
 * RSA user key that signs in only with rsa-sha2-256/512. Reproduced before: ssh2 advertised
 * `ssh-rsa,ssh-dss` (and `…nistp521rsa-sha2-512` run together), and accepted SHA-1 signatures.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { USER_AUTH_SIGNATURE_ALGORITHMS } from '../../src/adapters/sftp/signature-algorithms.js';
import { adminSession, call, startTestSluice, type TestSluice } from '../support/sluice.js';

const run = promisify(execFile);
let t: TestSluice;
let work: string;
let rsaKey: string;
const EXPECTED =
  'ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256';

/**
 * paramiko signing in with an RSA key. Modes: `default` (negotiates from server-sig-algs),
 * `sha1-only` (rsa-sha2-* disabled: only ssh-rsa left), `forced-sha1` (a client that ignores
 * server-sig-algs and signs with ssh-rsa anyway). Prints the server-sig-algs it got, then OK
 * or REFUSED.
 */
const RSA_SIGN_IN = `
import sys, paramiko
host, port, user, key_file, mode = sys.argv[1:6]
disabled = {'pubkeys': ['rsa-sha2-512', 'rsa-sha2-256']} if mode != 'default' else {}
if mode == 'forced-sha1':
    paramiko.auth_handler.AuthHandler._finalize_pubkey_algorithm = lambda self, key_type: 'ssh-rsa'
t = paramiko.Transport((host, int(port)), disabled_algorithms=disabled)
t.start_client()
key = paramiko.RSAKey.from_private_key_file(key_file)
try:
    t.auth_publickey(user, key)
    result = 'OK' if t.is_authenticated() else 'REFUSED'
except paramiko.AuthenticationException:
    result = 'REFUSED'
print(t.server_extensions.get('server-sig-algs', b'').decode())
print(result)
t.close()
`;

const SSH_OPTIONS = [
  '-o',
  'StrictHostKeyChecking=no',
  '-o',
  'UserKnownHostsFile=/dev/null',
  '-o',
  'BatchMode=yes',
  '-o',
  'IdentitiesOnly=yes',
];

/** OpenSSH `ssh` (exit status and its -vvv log); the server offers no shell, so `true` never runs. */
async function openSsh(args: string[]): Promise<{ code: number; log: string }> {
  try {
    const { stderr } = await run('ssh', [...SSH_OPTIONS, '-p', String(t.sluice.sftpPort), ...args]);
    return { code: 0, log: stderr };
  } catch (error) {
    const failed = error as { code?: number; stderr?: string };
    return { code: failed.code ?? 1, log: failed.stderr ?? '' };
  }
}

async function signInFailures(): Promise<Array<{ method: string; userName: string }>> {
  const { pool } = t.database.open({ max: 1 });
  try {
    return (await pool.query("SELECT data FROM events WHERE type = 'SignInFailed'")).rows.map(
      (r: { data: { method: string; userName: string } }) => r.data,
    );
  } finally {
    await pool.end();
  }
}

before(async () => {
  t = await startTestSluice();
  work = await mkdtemp(path.join(os.tmpdir(), 'sluice-sshalg-'));
  rsaKey = path.join(work, 'id_rsa');
  await run('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-m', 'PEM', '-N', '', '-f', rsaKey]);
  const admin = await adminSession(t.base);
  const res = await call(t.base, 'POST', '/api/v1/users', {
    token: admin,
    body: {
      userName: 'rsauser',
      emailAddress: 'rsauser@example.com',
      sshPublicKeys: [(await readFile(`${rsaKey}.pub`, 'utf8')).trim()],
    },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
});

after(async () => {
  await t.stop();
  await rm(work, { recursive: true, force: true });
});

describe('SSH algorithms', () => {
  it('server-sig-algs lists exactly the accepted user-auth signatures (OpenSSH -vvv and paramiko)', async () => {
    assert.equal(USER_AUTH_SIGNATURE_ALGORITHMS.join(','), EXPECTED);
    const { log } = await openSsh(['-vvv', '-o', 'PubkeyAuthentication=no', 'nobody@127.0.0.1', 'true']);
    const advertised = /server-sig-algs=<([^>]*)>/.exec(log);
    assert.ok(advertised, 'OpenSSH received server-sig-algs');
    assert.equal(advertised[1], EXPECTED);
    const paramiko = await run('/usr/bin/python3', [
      '-c',
      RSA_SIGN_IN,
      '127.0.0.1',
      String(t.sluice.sftpPort),
      'rsauser',
      rsaKey,
      'default',
    ]);
    assert.equal(paramiko.stdout, `${EXPECTED}\nOK\n`, 'an RSA key signs in with rsa-sha2-*');
  });

  it('refuses an RSA user key signing with ssh-rsa (SHA-1): paramiko, also when it ignores server-sig-algs', async () => {
    const before = (await signInFailures()).length;
    for (const mode of ['sha1-only', 'forced-sha1']) {
      const { stdout } = await run('/usr/bin/python3', [
        '-c',
        RSA_SIGN_IN,
        '127.0.0.1',
        String(t.sluice.sftpPort),
        'rsauser',
        rsaKey,
        mode,
      ]);
      assert.equal(stdout.split('\n')[1], 'REFUSED', `${mode}: ${stdout}`);
    }
    // The forced ssh-rsa signature reached the server and was refused there, recorded.
    const failures = (await signInFailures()).slice(before);
    assert.ok(failures.some((f) => f.method === 'public-key' && f.userName === 'rsauser'));
  });

  it('OpenSSH: ssh-rsa user signatures and ssh-rsa or ssh-dss host keys get nowhere; rsa-sha2-256 does', async () => {
    const sha1 = await openSsh([
      '-o',
      'PubkeyAcceptedAlgorithms=ssh-rsa',
      '-i',
      rsaKey,
      'rsauser@127.0.0.1',
      'true',
    ]);
    assert.notEqual(sha1.code, 0);
    assert.match(sha1.log, /Permission denied/);
    for (const hostKeyAlgorithm of ['ssh-rsa', 'ssh-dss']) {
      const hostKey = await openSsh([
        '-o',
        `HostKeyAlgorithms=${hostKeyAlgorithm}`,
        '-i',
        rsaKey,
        'rsauser@127.0.0.1',
        'true',
      ]);
      assert.notEqual(hostKey.code, 0);
      assert.match(
        hostKey.log,
        /no matching host key type found/,
        `${hostKeyAlgorithm}: ${JSON.stringify(hostKey)}`,
      );
    }
    // The same key, signing with SHA-256, is let in (no shell is offered: the command fails after sign-in).
    const sha256 = await openSsh([
      '-v',
      '-o',
      'PubkeyAcceptedAlgorithms=rsa-sha2-256',
      '-i',
      rsaKey,
      'rsauser@127.0.0.1',
      'true',
    ]);
    assert.match(sha256.log, /Authenticated to 127\.0\.0\.1/);
  });
});
