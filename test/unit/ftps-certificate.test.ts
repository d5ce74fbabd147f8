/**
 * The self-signed FTPS certificate: every one made must be valid DER that X509Certificate reads,
 * self-signed with its key, naming Sluice FTPS, localhost and 127.0.0.1. Made many times:
 * random fields (the serial, the signature) must never make one unreadable.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadOrCreateCertificate, selfSigned } from '../../src/adapters/ftps/certificate.js';

describe('FTPS certificate', () => {
  it('makes readable, self-signed certificates, 2,000 times in a row', () => {
    for (let i = 0; i < 2000; i++) {
      const { cert, key } = selfSigned('Sluice FTPS');
      const x509 = new X509Certificate(cert);
      assert.ok(x509.verify(x509.publicKey), 'signed by its own key');
      assert.ok(x509.checkPrivateKey(createPrivateKey(key)));
      assert.equal(x509.subject, 'CN=Sluice FTPS');
      assert.equal(x509.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1');
    }
  });

  it('is made once under the data folder, key mode 0600, then reused; a mismatched pair is refused', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-cert-'));
    try {
      const first = await loadOrCreateCertificate(dir, null);
      assert.equal(first.generated, true);
      assert.equal((await stat(path.join(dir, 'ftps', 'key.pem'))).mode & 0o777, 0o600);
      const again = await loadOrCreateCertificate(dir, null);
      assert.equal(again.generated, false);
      assert.equal(again.fingerprint, first.fingerprint);
      const other = selfSigned('Other');
      await writeFile(path.join(dir, 'other-key.pem'), other.key);
      await assert.rejects(
        loadOrCreateCertificate(dir, { certFile: first.certFile, keyFile: path.join(dir, 'other-key.pem') }),
        /the key does not match the certificate/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
