/**
 * The log key's file: made once with mode 0600 in a 0700 folder, the same key afterwards (also
 * when two processes start at once), a file others may read reported, and a file that holds no
 * Ed25519 private key refused in one line instead of a new key made over it.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadOrCreateLogKey, readPublicKey, signatureCheck } from '../../src/adapters/log-key/log-key.js';

let dir: string;

describe('the log key', () => {
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-log-key-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('is made once, 0600 in a 0700 folder, and the same key afterwards', async () => {
    const file = path.join(dir, 'made', 'ed25519.pem');
    const [a, b] = await Promise.all([loadOrCreateLogKey(file), loadOrCreateLogKey(file)]);
    assert.equal(a.signer.keyId, b.signer.keyId);
    assert.equal([a.created, b.created].filter(Boolean).length, 1);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(path.dirname(file))).mode & 0o777, 0o700);
    assert.equal(a.exposed, false);
    const again = await loadOrCreateLogKey(file);
    assert.deepEqual([again.created, again.signer.keyId], [false, a.signer.keyId]);
    assert.match(await readFile(file, 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
  });

  it('signs what its public key checks, and nothing else', async () => {
    const { signer } = await loadOrCreateLogKey(path.join(dir, 'made', 'ed25519.pem'));
    const check = signatureCheck([signer.publicKeyPem]);
    const message = Buffer.from('a tree head');
    const signature = signer.sign(message);
    assert.equal(check(signer.keyId, message, signature), 'valid');
    assert.equal(check(signer.keyId, Buffer.from('another head'), signature), 'invalid');
    assert.equal(check('0'.repeat(64), message, signature), 'unknown-key');
    const publicFile = path.join(dir, 'public.pem');
    await writeFile(publicFile, signer.publicKeyPem);
    assert.equal(
      signatureCheck([await readPublicKey(publicFile)])(signer.keyId, message, signature),
      'valid',
    );
  });

  it('reports a file others may read', async () => {
    const file = path.join(dir, 'made', 'ed25519.pem');
    await chmod(file, 0o644);
    assert.equal((await loadOrCreateLogKey(file)).exposed, true);
    await chmod(file, 0o600);
  });

  it('refuses a file that holds no Ed25519 private key, and leaves it as it was', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    });
    for (const [name, content, message] of [
      ['garbage.pem', 'not a key\n', /log key .*garbage\.pem cannot be read/],
      ['rsa.pem', rsa.toString(), /rsa\.pem holds an rsa key, not an Ed25519 one/],
    ] as const) {
      const file = path.join(dir, name);
      await writeFile(file, content, { mode: 0o600 });
      await assert.rejects(loadOrCreateLogKey(file), message);
      assert.equal(await readFile(file, 'utf8'), content);
    }
  });
});
