/**
 * The outbound SFTP transfer against a real OpenSSH server (sshd + internal-sftp): sending,
 * idempotent repeats, resuming a part file only when it is the source's prefix, and each way a
 * transfer is refused, with nothing written where it must not be.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { watch } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { sendFile } from '../../src/adapters/outbound-sftp/send-file.js';
import type { OutboundSftpTarget } from '../../src/adapters/outbound-sftp/target.js';
import { OutboundTransferError } from '../../src/adapters/outbound-sftp/transfer-error.js';
import { freePort } from '../support/free-port.js';
import { type OpenSshServer, outboundTarget, startOpenSshServer } from '../support/openssh-server.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('outbound SFTP transfer to OpenSSH', () => {
  let server: OpenSshServer;
  let local: string;
  let target: OutboundSftpTarget;
  let folders = 0;

  before(async () => {
    server = await startOpenSshServer();
    local = await mkdtemp(path.join(os.tmpdir(), 'sluice-outbound-'));
    target = outboundTarget(server);
  });

  after(async () => {
    await server?.stop();
    await rm(local, { recursive: true, force: true });
  });

  /** A source file of `size` random bytes and a fresh, empty remote folder for it. */
  async function fixture(size: number) {
    const content = randomBytes(size);
    const file = path.join(local, `source-${folders}`);
    await writeFile(file, content);
    const directory = path.join(server.root, `case-${folders++}`);
    await mkdir(directory);
    return {
      content,
      directory,
      source: { path: file, size, sha256: sha256(content) },
      to: { ...target, directory },
    };
  }

  async function refused(promise: Promise<unknown>, code: string, retryable: boolean) {
    const error = await promise.then(
      () => assert.fail('the transfer should have been refused'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof OutboundTransferError, String(error));
    assert.equal(error.code, code, error.message);
    assert.equal(error.retryable, retryable);
    return error;
  }

  it('sends a file under its final name and leaves no part file', async () => {
    const f = await fixture(3 * 1024 * 1024 + 17);
    const result = await sendFile(f.to, f.source, 'report.bin');
    assert.deepEqual(result, {
      outcome: 'sent',
      bytesSent: f.source.size,
      resumedFrom: 0,
      sha256: f.source.sha256,
    });
    assert.ok((await readFile(path.join(f.directory, 'report.bin'))).equals(f.content));
    assert.deepEqual(await readdir(f.directory), ['report.bin']);
  });

  it('sends an empty file', async () => {
    const f = await fixture(0);
    const result = await sendFile(f.to, f.source, 'empty');
    assert.equal(result.outcome, 'sent');
    assert.equal((await stat(path.join(f.directory, 'empty'))).size, 0);
  });

  it('answers already-there when the same bytes are under the name, without writing', async () => {
    const f = await fixture(300_000);
    await sendFile(f.to, f.source, 'a.bin');
    const before = await stat(path.join(f.directory, 'a.bin'));
    const again = await sendFile(f.to, f.source, 'a.bin');
    assert.deepEqual(again, {
      outcome: 'already-there',
      bytesSent: 0,
      resumedFrom: 0,
      sha256: f.source.sha256,
    });
    assert.equal((await stat(path.join(f.directory, 'a.bin'))).ino, before.ino);
    assert.deepEqual(await readdir(f.directory), ['a.bin']);
  });

  it('replaces a different file of the same size under the name', async () => {
    const f = await fixture(100_000);
    await writeFile(path.join(f.directory, 'a.bin'), randomBytes(100_000));
    const result = await sendFile(f.to, f.source, 'a.bin');
    assert.equal(result.outcome, 'sent');
    assert.ok((await readFile(path.join(f.directory, 'a.bin'))).equals(f.content));
  });

  it('resumes a part file that holds the source prefix', async () => {
    const f = await fixture(2 * 1024 * 1024);
    const prefix = 700_001;
    await writeFile(path.join(f.directory, '.r.bin.sluice-part'), f.content.subarray(0, prefix));
    const result = await sendFile(f.to, f.source, 'r.bin');
    assert.deepEqual(result, {
      outcome: 'sent',
      bytesSent: f.source.size - prefix,
      resumedFrom: prefix,
      sha256: f.source.sha256,
    });
    assert.ok((await readFile(path.join(f.directory, 'r.bin'))).equals(f.content));
    assert.deepEqual(await readdir(f.directory), ['r.bin']);
  });

  it('starts over when the part file is not the source prefix', async () => {
    const f = await fixture(1024 * 1024);
    const corrupt = Buffer.from(f.content.subarray(0, 500_000));
    corrupt[123_456] = (corrupt[123_456]! + 1) % 256;
    await writeFile(path.join(f.directory, '.c.bin.sluice-part'), corrupt);
    const result = await sendFile(f.to, f.source, 'c.bin');
    assert.equal(result.resumedFrom, 0);
    assert.equal(result.bytesSent, f.source.size);
    assert.ok((await readFile(path.join(f.directory, 'c.bin'))).equals(f.content));
    assert.deepEqual(await readdir(f.directory), ['c.bin']);
  });

  it('starts over when the part file is longer than the source', async () => {
    const f = await fixture(50_000);
    await writeFile(
      path.join(f.directory, '.l.bin.sluice-part'),
      Buffer.concat([f.content, Buffer.from('more')]),
    );
    const result = await sendFile(f.to, f.source, 'l.bin');
    assert.equal(result.resumedFrom, 0);
    assert.ok((await readFile(path.join(f.directory, 'l.bin'))).equals(f.content));
  });

  it('stops at once when aborted mid-transfer, and the next attempt completes from the part file', async () => {
    const f = await fixture(64 * 1024 * 1024);
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const watcher = watch(f.directory, () => controller.abort(reason));
    try {
      await assert.rejects(
        sendFile(f.to, f.source, 'big.bin', { signal: controller.signal }),
        (e) => e === reason,
      );
    } finally {
      watcher.close();
    }
    assert.deepEqual(await readdir(f.directory), ['.big.bin.sluice-part']);
    const result = await sendFile(f.to, f.source, 'big.bin');
    assert.equal(result.resumedFrom + result.bytesSent, f.source.size);
    assert.ok((await readFile(path.join(f.directory, 'big.bin'))).equals(f.content));
    assert.deepEqual(await readdir(f.directory), ['big.bin']);
  });

  // The part file's name is a link to /dev/null on the server: every write "succeeds" and the
  // read-back finds nothing, as with a peer that loses what it was sent.
  it('refuses to rename what does not read back as sent, and removes the part file', async () => {
    const f = await fixture(200_000);
    await symlink('/dev/null', path.join(f.directory, '.v.bin.sluice-part'));
    const error = await refused(sendFile(f.to, f.source, 'v.bin'), 'verify-failed', true);
    assert.match(error.message, /read back as 0 bytes/);
    assert.deepEqual(await readdir(f.directory), []);
  });

  it('refuses a server whose host key is not the pinned one, writing nothing', async () => {
    const f = await fixture(1000);
    const pin = `SHA256:${randomBytes(32).toString('base64').replace(/=+$/, '')}`;
    const logged = server.log().length;
    await refused(sendFile({ ...f.to, hostKeySha256: pin }, f.source, 'x'), 'host-key-mismatch', false);
    assert.deepEqual(await readdir(f.directory), []);
    assert.doesNotMatch(server.log().slice(logged), /Accepted|Failed/);
  });

  it('reports a key the server does not accept as auth-failed', async () => {
    const f = await fixture(1000);
    const other = ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 }).private;
    await refused(sendFile({ ...f.to, privateKey: other }, f.source, 'x'), 'auth-failed', false);
    assert.deepEqual(await readdir(f.directory), []);
  });

  it('reports a port nobody listens on as unreachable, retryable', async () => {
    const f = await fixture(1000);
    await refused(sendFile({ ...f.to, port: await freePort() }, f.source, 'x'), 'unreachable', true);
  });

  it('refuses a source whose bytes are not the recorded ones, and removes the part file', async () => {
    const f = await fixture(400_000);
    const recorded = { ...f.source, sha256: sha256(randomBytes(10)) };
    await refused(sendFile(f.to, recorded, 's.bin'), 'source-changed', false);
    assert.deepEqual(await readdir(f.directory), []);
  });

  it('refuses a source whose size is not the recorded one, or that is gone', async () => {
    const f = await fixture(1000);
    await refused(sendFile(f.to, { ...f.source, size: 999 }, 's.bin'), 'source-changed', false);
    await refused(
      sendFile(f.to, { ...f.source, path: `${f.source.path}.gone` }, 's.bin'),
      'source-changed',
      false,
    );
    assert.deepEqual(await readdir(f.directory), []);
  });

  it('reports a missing remote directory as a retryable remote error', async () => {
    const f = await fixture(1000);
    const error = await refused(
      sendFile({ ...f.to, directory: path.join(f.directory, 'missing') }, f.source, 'x'),
      'remote-error',
      true,
    );
    assert.match(error.message, /does not exist/);
  });

  it('refuses a name taken by a folder before sending anything', async () => {
    const f = await fixture(1000);
    await mkdir(path.join(f.directory, 'taken'));
    const error = await refused(sendFile(f.to, f.source, 'taken'), 'remote-error', true);
    assert.match(error.message, /is not a file/);
    assert.deepEqual(await readdir(f.directory), ['taken']);
  });

  it('refuses an invalid target or name before connecting', async () => {
    const f = await fixture(10);
    for (const [to, name] of [
      [{ ...f.to, hostKeySha256: 'MD5:aa:bb' }, 'x'],
      [{ ...f.to, privateKey: undefined }, 'x'],
      [{ ...f.to, port: 0 }, 'x'],
      [f.to, '../escape'],
      [f.to, '..'],
    ] as const) {
      await refused(sendFile(to, f.source, name), 'invalid-target', false);
    }
    await refused(sendFile(f.to, { ...f.source, sha256: 'ABC' }, 'x'), 'invalid-target', false);
    await refused(sendFile(f.to, f.source, 'x', { timeoutMs: 0 }), 'invalid-target', false);
    assert.deepEqual(await readdir(f.directory), []);
    assert.deepEqual(await readdir(path.dirname(f.directory)).then((d) => d.includes('escape')), false);
  });

  it('gives up with a retryable timeout when the time runs out', async () => {
    const f = await fixture(1000);
    await refused(sendFile(f.to, f.source, 't', { timeoutMs: 1 }), 'timeout', true);
    assert.deepEqual(await readdir(f.directory), []);
  });

  it('throws the abort reason when the signal is aborted', async () => {
    const f = await fixture(1000);
    const reason = new Error('delivery cancelled');
    await assert.rejects(
      sendFile(f.to, f.source, 'a', { signal: AbortSignal.abort(reason) }),
      (e) => e === reason,
    );
    assert.deepEqual(await readdir(f.directory), []);
  });
});
