/**
 * ssh2's own SFTP client against an ssh2 Server whose `sftp` subsystem is served by
 * SftpProtocolSession on the raw channel. ssh2's client refuses the ext_openssh_* calls unless
 * VERSION announced them, and sizes its writes from limits@openssh.com, so this also proves
 * the VERSION extensions and the limits reply.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import ssh2 from 'ssh2';
import { SftpProtocolSession } from '../../src/adapters/sftp/protocol/server.js';
import { MemoryFiles } from './support/memory-files.js';

const { Client, Server, utils } = ssh2;

describe('interoperability with the ssh2 SFTP client', () => {
  const files = new MemoryFiles();
  const sessions: SftpProtocolSession[] = [];
  let server: InstanceType<typeof Server>;
  let client: InstanceType<typeof Client>;
  let sftp: ssh2.SFTPWrapper;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sluice-sftp-'));
    const hostKey = utils.generateKeyPairSync('ed25519');
    server = new Server({ hostKeys: [hostKey.private] }, (connection) => {
      connection.on('authentication', (ctx) => ctx.accept());
      connection.on('ready', () => {
        connection.on('session', (acceptSession) => {
          const session = acceptSession();
          session.on('subsystem', (accept, reject, info) => {
            if (info.name !== 'sftp') return reject();
            sessions.push(new SftpProtocolSession(accept(), files));
          });
        });
      });
      connection.on('error', () => {});
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    client = new Client();
    client.connect({ host: '127.0.0.1', port, username: 'tester', password: 'x' });
    await once(client, 'ready');
    sftp = await promisify(client.sftp.bind(client))();
  });

  after(async () => {
    client.end();
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('fastPut and fastGet a 2 MiB file with 255 KiB writes (limits@openssh.com honoured)', async () => {
    const content = Buffer.alloc(2 * 1024 * 1024);
    for (let i = 0; i < content.length; i += 4) content.writeUInt32BE(i, i);
    const local = path.join(dir, 'up.bin');
    await writeFile(local, content);
    const started = performance.now();
    await new Promise<void>((resolve, reject) =>
      sftp.fastPut(local, '/up.bin', { chunkSize: 261_120 }, (err) => (err ? reject(err) : resolve())),
    );
    const putMs = performance.now() - started;
    assert.deepEqual(files.files.get('/up.bin'), content);
    assert.equal(Math.max(...files.writeSizes), 261_120);

    const back = path.join(dir, 'down.bin');
    const fetched = performance.now();
    await new Promise<void>((resolve, reject) =>
      sftp.fastGet('/up.bin', back, { chunkSize: 261_120 }, (err) => (err ? reject(err) : resolve())),
    );
    const getMs = performance.now() - fetched;
    assert.deepEqual(await readFile(back), content);
    console.log(`ssh2 loopback, 2 MiB: fastPut ${putMs.toFixed(0)} ms, fastGet ${getMs.toFixed(0)} ms`);
  });

  it('readdir, rename, posix-rename, statvfs, fsync; hardlink refused', async () => {
    files.dirs.add('/dir');
    files.files.set('/dir/one', Buffer.from('1'));
    files.files.set('/dir/two', Buffer.from('22'));
    const list = await promisify(sftp.readdir.bind(sftp))('/dir');
    assert.deepEqual(list.map((e) => [e.filename, e.attrs.size]).sort(), [
      ['one', 1],
      ['two', 2],
    ]);

    await promisify(sftp.rename.bind(sftp))('/dir/one', '/dir/uno');
    await assert.rejects(promisify(sftp.rename.bind(sftp))('/dir/uno', '/dir/two'), { code: 4 });
    await new Promise<void>((resolve, reject) =>
      sftp.ext_openssh_rename('/dir/uno', '/dir/two', (err) => (err ? reject(err) : resolve())),
    );
    assert.deepEqual(files.files.get('/dir/two'), Buffer.from('1'));

    const stats = await new Promise<Record<string, number>>((resolve, reject) =>
      sftp.ext_openssh_statvfs('/', (err, info) => (err ? reject(err) : resolve(info))),
    );
    assert.equal(stats.f_bsize, 4096);
    assert.equal(stats.f_bavail, 500);
    assert.equal(stats.f_namemax, 255);

    const handle = await promisify(sftp.open.bind(sftp))('/synced', 'w');
    await promisify(sftp.write.bind(sftp))(handle, Buffer.from('hello'), 0, 5, 0);
    await new Promise<void>((resolve, reject) =>
      sftp.ext_openssh_fsync(handle, (err) => (err ? reject(err) : resolve())),
    );
    assert.equal(files.syncs, 1);
    await promisify(sftp.close.bind(sftp))(handle);
    assert.deepEqual(files.files.get('/synced'), Buffer.from('hello'));

    await assert.rejects(
      new Promise<void>((resolve, reject) =>
        sftp.ext_openssh_hardlink('/synced', '/linked', (err) => (err ? reject(err) : resolve())),
      ),
      { code: 8, message: 'Sluice does not create hard links' },
    );
  });

  it('ends the session when the client leaves while replies wait for drain', async () => {
    const before = sessions.length;
    files.files.set('/block', Buffer.alloc(261_120, 1));
    const channel = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
      client.subsys('sftp', (err, ch) => (err ? reject(err) : resolve(ch))),
    );
    const replies: Buffer[] = [];
    channel.on('data', (d: Buffer) => replies.push(d));
    const frame = (type: number, ...parts: Buffer[]) => {
      const body = Buffer.concat([Buffer.from([type]), ...parts]);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(body.length);
      return Buffer.concat([len, body]);
    };
    const u32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(n);
      return b;
    };
    const s = (v: string | Buffer) => Buffer.concat([u32(Buffer.byteLength(v)), Buffer.from(v)]);
    channel.write(frame(1, u32(3)));
    channel.write(frame(3, u32(1), s('/block'), u32(1), u32(0)));
    await new Promise((r) => setTimeout(r, 100));
    const all = Buffer.concat(replies);
    const handleReply = all.subarray(all.readUInt32BE(0) + 4);
    const handle = handleReply.subarray(13, 13 + handleReply.readUInt32BE(9));
    channel.pause(); // stop reading: the server's replies back up behind the SSH window
    for (let i = 0; i < 300; i++) {
      channel.write(frame(5, u32(10 + i), s(handle), Buffer.alloc(8), u32(261_120)));
    }
    await new Promise((r) => setTimeout(r, 300));
    channel.close();
    const summary = await sessions[before]!.closed;
    assert.equal(summary.reason, 'client-ended');
    assert.equal(summary.abortedFiles, 1);
    assert.ok(summary.requests < 300, `${summary.requests} requests dispatched`);
  });

  it('aborts an upload left open when the client goes away', async () => {
    const handle = await promisify(sftp.open.bind(sftp))('/left-open', 'w');
    await promisify(sftp.write.bind(sftp))(handle, Buffer.from('partial'), 0, 7, 0);
    client.end();
    const summary = await sessions[0]!.closed;
    assert.equal(summary.abortedFiles, 1);
    assert.ok(files.aborted.some((a) => a.path === '/left-open'));
    assert.equal(files.files.has('/left-open'), false);
  });
});
