/**
 * HTTPS with MFT_TLS_CERT/MFT_TLS_KEY (TLS 1.2+, forward-secret AEAD suites, HSTS), and
 * X-Forwarded-For believed only from named proxies.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { curl } from '../support/curl.js';
import { ADMIN_PASSWORD, startTestSluice, type TestSluice } from '../support/sluice.js';

const run = promisify(execFile);
let t: TestSluice;
let dir: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-tls-'));
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-keyout',
    path.join(dir, 'key.pem'),
    '-out',
    path.join(dir, 'cert.pem'),
  ]);
  t = await startTestSluice({
    env: {
      MFT_TLS_CERT: path.join(dir, 'cert.pem'),
      MFT_TLS_KEY: path.join(dir, 'key.pem'),
      MFT_TRUSTED_PROXIES: '127.0.0.1',
    },
  });
});

after(async () => {
  await t.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('HTTPS', () => {
  it('serves the whole API over TLS to a client that trusts the certificate', async () => {
    assert.match(t.base, /^https:\/\//);
    const health = await curl(['--cacert', path.join(dir, 'cert.pem'), `${t.base}/healthz`]);
    assert.equal(health.status, 200);
    const untrusted = await curl([`${t.base}/healthz`]).catch((error: Error) => error);
    assert.ok(untrusted instanceof Error, 'a client without the certificate refuses to talk');
    const plain = await curl([`${t.base.replace('https://', 'http://')}/healthz`]).catch(
      (error: Error) => error,
    );
    assert.ok(plain instanceof Error || plain.status >= 400, 'no plain HTTP on the TLS port');
  });

  it('believes X-Forwarded-For from a configured proxy', async () => {
    const opened = await curl([
      '--cacert',
      path.join(dir, 'cert.pem'),
      '-H',
      'content-type: application/json',
      '-H',
      'x-forwarded-for: 198.51.100.9',
      '-d',
      JSON.stringify({ userName: 'admin', password: ADMIN_PASSWORD, applicationId: 1 }),
      `${t.base}/api/v1/sessions/open-immutable`,
    ]);
    assert.equal(opened.status, 201);
    const me = await curl([
      '--cacert',
      path.join(dir, 'cert.pem'),
      '-H',
      `authorization: Bearer ${opened.json<{ token: string }>().token}`,
      `${t.base}/api/v1/sessions/current`,
    ]);
    assert.equal(me.json<{ clientIp: string }>().clientIp, '198.51.100.9');
  });
});

/** `openssl s_client` handshake with the given extra options; resolves whether it succeeded. */
async function handshake(options: string[]): Promise<{ ok: boolean; output: string }> {
  const { hostname, port } = new URL(t.base);
  try {
    const { stdout, stderr } = await run(
      'sh',
      ['-c', `openssl s_client -connect ${hostname}:${port} ${options.join(' ')} </dev/null`],
      { timeout: 30_000 },
    );
    return { ok: true, output: stdout + stderr };
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    return { ok: false, output: (failed.stdout ?? '') + (failed.stderr ?? '') };
  }
}

describe('TLS hygiene', () => {
  it('refuses TLS 1.1 and older (curl --tls-max 1.1, openssl -tls1_1)', async () => {
    const old = await curl([
      '--cacert',
      path.join(dir, 'cert.pem'),
      '--tlsv1',
      '--tls-max',
      '1.1',
      `${t.base}/healthz`,
    ]).catch((error: Error) => error);
    assert.ok(old instanceof Error, 'curl limited to TLS 1.1 gets no answer');
    assert.equal((await handshake(['-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0'])).ok, false);
  });

  it('offers only forward-secret AEAD suites in TLS 1.2: no RSA key exchange, no CBC', async () => {
    for (const cipher of [
      'AES128-SHA',
      'ECDHE-ECDSA-AES128-SHA',
      'ECDHE-ECDSA-AES128-SHA256',
      'AES128-GCM-SHA256',
    ]) {
      const result = await handshake(['-tls1_2', '-cipher', cipher]);
      assert.equal(result.ok, false, `${cipher} was accepted: ${result.output}`);
    }
    for (const cipher of ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-CHACHA20-POLY1305']) {
      const result = await handshake(['-tls1_2', '-cipher', cipher]);
      assert.ok(result.ok, result.output);
      assert.match(result.output, new RegExp(`Cipher is ${cipher}`));
    }
    const tls13 = await handshake(['-tls1_3']);
    assert.ok(tls13.ok, tls13.output);
    assert.match(tls13.output, /TLSv1\.3/);
  });

  it('sends Strict-Transport-Security on every HTTPS response, errors included', async () => {
    for (const route of ['/healthz', '/no-such-route', '/api/v1/users']) {
      const res = await curl(['--cacert', path.join(dir, 'cert.pem'), `${t.base}${route}`]);
      assert.equal(res.headers['strict-transport-security'], 'max-age=31536000', route);
    }
  });
});
