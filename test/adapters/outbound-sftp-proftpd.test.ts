/**
 * The outbound SFTP transfer against ProFTPD's mod_sftp with posix-rename@openssh.com turned
 * off and password sign-in: the paths OpenSSH never takes (plain RENAME, replacing an older file
 * by removing it first; a password instead of a key).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sendFile } from '../../src/adapters/outbound-sftp/send-file.js';
import { OutboundTransferError } from '../../src/adapters/outbound-sftp/transfer-error.js';
import { type ProftpdServer, startProftpdServer } from '../support/proftpd-server.js';

describe('outbound SFTP transfer to ProFTPD (no posix-rename, password)', () => {
  let server: ProftpdServer;
  let local: string;

  before(async () => {
    server = await startProftpdServer();
    local = await mkdtemp(path.join(os.tmpdir(), 'sluice-outbound-proftpd-'));
  });

  after(async () => {
    await server?.stop();
    await rm(local, { recursive: true, force: true });
  });

  async function fixture(name: string, size: number) {
    const content = randomBytes(size);
    const file = path.join(local, name);
    await writeFile(file, content);
    const directory = path.join(server.root, name);
    await mkdir(directory);
    return {
      content,
      directory,
      to: { ...server.target, directory },
      source: { path: file, size, sha256: createHash('sha256').update(content).digest('hex') },
    };
  }

  it('signs in with a password, sends, and renames with plain RENAME', async () => {
    const f = await fixture('plain', 1024 * 1024 + 3);
    const result = await sendFile(f.to, f.source, 'out.bin');
    assert.equal(result.outcome, 'sent');
    assert.ok((await readFile(path.join(f.directory, 'out.bin'))).equals(f.content));
    assert.deepEqual(await readdir(f.directory), ['out.bin']);
    assert.equal((await sendFile(f.to, f.source, 'out.bin')).outcome, 'already-there');
  });

  it('replaces an older file under the name by removing it before the RENAME', async () => {
    const f = await fixture('replace', 70_000);
    await writeFile(path.join(f.directory, 'out.bin'), 'an older version');
    assert.equal((await sendFile(f.to, f.source, 'out.bin')).outcome, 'sent');
    assert.ok((await readFile(path.join(f.directory, 'out.bin'))).equals(f.content));
    assert.deepEqual(await readdir(f.directory), ['out.bin']);
  });

  it('reports a wrong password as auth-failed, writing nothing', async () => {
    const f = await fixture('wrong', 10);
    await assert.rejects(sendFile({ ...f.to, password: 'not-it' }, f.source, 'out.bin'), (error) => {
      assert.ok(error instanceof OutboundTransferError, String(error));
      assert.equal(error.code, 'auth-failed');
      return true;
    });
    assert.deepEqual(await readdir(f.directory), []);
  });
});
