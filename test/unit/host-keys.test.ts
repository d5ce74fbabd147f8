/**
 * Host keys must be readable back: ssh2's own ed25519 generator makes about one key in 256 that
 * its parser refuses (the public key's leading zero bytes dropped), which would stop a fresh
 * server from starting.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { generateReadable } from '../../src/adapters/sftp/host-keys.js';

const ed25519 = () => ssh2.utils.generateKeyPairSync('ed25519');

describe('host key generation', () => {
  it('throws away a generated key ssh2 cannot read back, and makes another', () => {
    // A key of the kind the bug makes (found among ssh2's own, about one in 256), else any
    // unreadable text.
    let unreadable = 'not a key';
    for (let i = 0; i < 5_000; i += 1) {
      const key = ed25519().private;
      if (ssh2.utils.parseKey(key) instanceof Error) {
        unreadable = key;
        break;
      }
    }
    const made = [unreadable, ...Array.from({ length: 3 }, () => ed25519().private)];
    let calls = 0;
    const key = generateReadable(() => ({ private: made[calls++]! }));
    assert.equal(calls, 2);
    assert.equal(key, made[1]);
    assert.ok(!(ssh2.utils.parseKey(key) instanceof Error));
  });

  it('gives up with a clear error when nothing readable comes', () => {
    assert.throws(
      () => generateReadable(() => ({ private: 'not a key' }), 3),
      /could not make a readable host key/,
    );
  });
});
