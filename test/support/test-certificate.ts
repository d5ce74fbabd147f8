/**
 * A self-signed certificate for test peers (aiosmtpd, rsyslog's gtls), made by the openssl
 * command-line tool: ECDSA P-256, valid two days, for `localhost` and `127.0.0.1`. Being its
 * own CA, its PEM is what a client passes as `ca` to trust it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

export interface TestCertificate {
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** The certificate's PEM: the CA a client trusts. */
  readonly cert: string;
}

export async function makeTestCertificate(commonName = 'localhost'): Promise<TestCertificate> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-cert-'));
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '2',
    '-subj',
    `/CN=${commonName}`,
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ]);
  return { dir, certFile, keyFile, cert: await readFile(certFile, 'utf8') };
}
