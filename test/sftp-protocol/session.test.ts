/** SftpProtocolSession over a TCP socket pair with an in-memory FileSession. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileError, type FileErrorCode } from '../../src/application/files/file-session.js';
import { MemoryFiles } from './support/memory-files.js';
import {
  attrsOf,
  connect,
  dataOf,
  FX,
  handleOf,
  namesOf,
  noAttrs,
  packet,
  pflags,
  request,
  statusOf,
  str,
  T,
  u32,
  u64,
  u64sOf,
  versionOf,
} from './support/raw-client.js';

async function ready(files = new MemoryFiles(), options = {}) {
  const harness = await connect(files, options);
  await harness.client.init();
  return { ...harness, files };
}

describe('SFTP session: VERSION and extensions', () => {
  it('answers INIT with VERSION 3 and the OpenSSH extensions', async () => {
    const { client, session } = await connect(new MemoryFiles());
    const { version, extensions } = versionOf(await client.init());
    assert.equal(version, 3);
    assert.deepEqual(Object.fromEntries(extensions), {
      'posix-rename@openssh.com': '1',
      'statvfs@openssh.com': '2',
      'fstatvfs@openssh.com': '2',
      'hardlink@openssh.com': '1',
      'fsync@openssh.com': '1',
      'limits@openssh.com': '1',
    });
    client.socket.end();
    assert.equal((await session.closed).reason, 'client-ended');
  });

  it('answers limits@openssh.com with the packet, read, write and handle limits', async () => {
    const { client } = await ready(new MemoryFiles(), { maxOpenHandles: 77 });
    assert.deepEqual(u64sOf(await client.extended('limits@openssh.com')), [262144n, 261120n, 261120n, 77n]);
    client.socket.end();
  });

  it('ends the session when the first packet is not INIT, or INIT comes twice', async () => {
    const first = await connect(new MemoryFiles());
    first.client.write(request(T.STAT, 1, str('/')));
    assert.equal((await first.session.closed).reason, 'protocol-error');
    await first.client.ended;

    const second = await ready();
    second.client.write(packet(T.INIT, u32(3)));
    assert.equal((await second.session.closed).reason, 'protocol-error');
    await second.client.ended;
  });
});

describe('SFTP session: files', () => {
  it('round-trips a file: OPEN, WRITEs out of order, CLOSE (pipelined), then READ to EOF', async () => {
    const { client, files } = await ready();
    const handle = await client.open('/up.bin', pflags.WRITE | pflags.CREAT | pflags.TRUNC);
    const content = Buffer.alloc(10 * 1000);
    for (let i = 0; i < content.length; i++) content[i] = (i * 7) % 251;
    const ids: number[] = [];
    // Chunks sent last-first: offsets, not order, place the data.
    for (let off = content.length - 1000; off >= 0; off -= 1000) {
      const id = client.id();
      ids.push(id);
      client.write(request(T.WRITE, id, str(handle), u64(off), str(content.subarray(off, off + 1000))));
    }
    const closeId = client.id();
    client.write(request(T.CLOSE, closeId, str(handle)));
    for (const id of ids) assert.equal(statusOf(await client.reply(id)).code, FX.OK);
    assert.equal(statusOf(await client.reply(closeId)).code, FX.OK);
    assert.deepEqual(files.files.get('/up.bin'), content);

    const rh = await client.open('/up.bin', pflags.READ);
    const first = dataOf(await client.call(T.READ, str(rh), u64(0), u32(4000)));
    assert.deepEqual(first, content.subarray(0, 4000));
    const tail = dataOf(await client.call(T.READ, str(rh), u64(9000), u32(4000)));
    assert.deepEqual(tail, content.subarray(9000));
    const eof = statusOf(await client.call(T.READ, str(rh), u64(10_000), u32(4000)));
    assert.equal(eof.code, FX.EOF);
    assert.deepEqual(attrsOf(await client.call(T.FSTAT, str(rh))), { size: 10_000n, mode: 0o100644 });
    assert.equal(statusOf(await client.call(T.CLOSE, str(rh))).code, FX.OK);
    client.socket.end();
  });

  it('clamps reads to 261120 bytes and sends large DATA replies intact', async () => {
    const files = new MemoryFiles();
    const big = Buffer.alloc(600_000, 0x5a);
    files.files.set('/big', big);
    const { client, session } = await ready(files);
    const rh = await client.open('/big', pflags.READ);
    const data = dataOf(await client.call(T.READ, str(rh), u64(0), u32(1_000_000)));
    assert.equal(data.length, 261_120);
    assert.equal(session.bytesOut, 261_120);
    client.socket.end();
  });

  it('stat, lstat, setstat, fsetstat, realpath, mkdir, rmdir, remove, rename, posix-rename', async () => {
    const files = new MemoryFiles();
    files.files.set('/a', Buffer.from('abc'));
    files.files.set('/b', Buffer.from('b'));
    const { client } = await ready(files);
    assert.deepEqual(attrsOf(await client.call(T.STAT, str('/a'))), {
      size: 3n,
      mode: 0o100644,
      uid: 1000,
      gid: 1000,
      atime: 3,
      mtime: 4,
    });
    assert.equal(attrsOf(await client.call(T.LSTAT, str('/'))).mode, 0o040755);
    const setAttrs = Buffer.concat([u32(0x4 | 0x8), u32(0o600), u32(10), u32(20)]);
    assert.equal(statusOf(await client.call(T.SETSTAT, str('/a'), setAttrs)).code, FX.OK);
    assert.deepEqual(files.setstats.at(-1), { path: '/a', attrs: { mode: 0o600, atime: 10, mtime: 20 } });
    const names = namesOf(await client.call(T.REALPATH, str('.')));
    assert.deepEqual(names, [{ name: '/', longname: '/', attrs: {} }]);
    assert.equal(namesOf(await client.call(T.REALPATH, str('')))[0]?.name, '/');
    assert.equal(statusOf(await client.call(T.MKDIR, str('/d'), noAttrs)).code, FX.OK);
    assert.equal(statusOf(await client.call(T.RMDIR, str('/d'))).code, FX.OK);
    // RENAME never replaces; posix-rename does.
    const refused = statusOf(await client.call(T.RENAME, str('/a'), str('/b')));
    assert.equal(refused.code, FX.FAILURE);
    assert.equal(
      statusOf(await client.extended('posix-rename@openssh.com', str('/a'), str('/b'))).code,
      FX.OK,
    );
    assert.deepEqual(files.files.get('/b'), Buffer.from('abc'));
    assert.equal(statusOf(await client.call(T.REMOVE, str('/b'))).code, FX.OK);
    assert.equal(statusOf(await client.call(T.REMOVE, str('/b'))).code, FX.NO_SUCH_FILE);

    const wh = await client.open('/w', pflags.WRITE | pflags.CREAT);
    assert.equal(statusOf(await client.call(T.FSETSTAT, str(wh), u32(0x4), u32(0o640))).code, FX.OK);
    assert.deepEqual(files.setstats.at(-1), { path: '/w', attrs: { mode: 0o640 } });
    client.socket.end();
  });

  it('statvfs, fstatvfs and fsync extensions; hardlink and symlink are refused', async () => {
    const files = new MemoryFiles();
    const { client } = await ready(files);
    const vfs = u64sOf(await client.extended('statvfs@openssh.com', str('/')));
    assert.deepEqual(vfs, [4096n, 4096n, 1000n, 600n, 500n, 100n, 90n, 90n, 0n, 2n, 255n]);
    const wh = await client.open('/f', pflags.WRITE | pflags.CREAT);
    assert.equal(u64sOf(await client.extended('fstatvfs@openssh.com', str(wh))).length, 11);
    assert.equal(statusOf(await client.extended('fsync@openssh.com', str(wh))).code, FX.OK);
    assert.equal(files.syncs, 1);
    const hard = statusOf(await client.extended('hardlink@openssh.com', str('/f'), str('/g')));
    assert.deepEqual([hard.code, hard.message], [FX.OP_UNSUPPORTED, 'Sluice does not create hard links']);
    const sym = statusOf(await client.call(T.SYMLINK, str('/f'), str('/g')));
    assert.deepEqual(
      [sym.code, sym.message],
      [FX.PERMISSION_DENIED, 'Sluice does not create symbolic links'],
    );
    const unknown = statusOf(await client.extended('copy-data', str('x')));
    assert.equal(unknown.code, FX.OP_UNSUPPORTED);
    const readlink = statusOf(await client.call(T.READLINK, str('/f')));
    assert.equal(readlink.code, FX.PERMISSION_DENIED);
    assert.ok(!files.calls.some((c) => c.includes('/g')), 'refused requests never reach the FileSession');
    client.socket.end();
  });

  it('lists a directory across READDIRs to EOF', async () => {
    const files = new MemoryFiles();
    for (let i = 0; i < 8; i++) files.files.set(`/dir/f${i}`, Buffer.alloc(i));
    files.dirs.add('/dir');
    files.readdirBatch = 3;
    const { client } = await ready(files);
    const dh = handleOf(await client.call(T.OPENDIR, str('/dir')));
    const seen: string[] = [];
    for (;;) {
      const reply = await client.call(T.READDIR, str(dh));
      if (reply.type === T.STATUS) {
        assert.equal(statusOf(reply).code, FX.EOF);
        break;
      }
      for (const entry of namesOf(reply)) seen.push(entry.name);
    }
    assert.deepEqual(seen, ['f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7']);
    assert.equal(statusOf(await client.call(T.READDIR, str(dh))).code, FX.EOF);
    assert.equal(statusOf(await client.call(T.CLOSE, str(dh))).code, FX.OK);
    assert.deepEqual(files.closed, ['/dir']);
    client.socket.end();
  });

  it('splits a huge directory batch into NAME replies a client accepts', async () => {
    const files = new MemoryFiles();
    files.dirs.add('/many');
    for (let i = 0; i < 1000; i++) files.files.set(`/many/${'x'.repeat(200)}${i}`, Buffer.alloc(0));
    files.readdirBatch = 1000;
    const { client } = await ready(files);
    const dh = handleOf(await client.call(T.OPENDIR, str('/many')));
    let total = 0;
    for (;;) {
      const reply = await client.call(T.READDIR, str(dh));
      if (reply.type === T.STATUS) break;
      assert.ok(reply.body.length < 256 * 1024);
      total += namesOf(reply).length;
    }
    assert.equal(total, 1000);
    client.socket.end();
  });
});

describe('SFTP session: handles', () => {
  it('answers FAILURE for unknown, closed and wrong-kind handles', async () => {
    const files = new MemoryFiles();
    files.dirs.add('/d');
    const { client } = await ready(files);
    for (const bogus of [Buffer.alloc(0), Buffer.from('nope'), Buffer.alloc(16, 1)]) {
      const read = statusOf(await client.call(T.READ, str(bogus), u64(0), u32(10)));
      assert.deepEqual([read.code, read.message], [FX.FAILURE, 'invalid handle']);
      assert.equal(statusOf(await client.call(T.CLOSE, str(bogus))).code, FX.FAILURE);
    }
    const dh = handleOf(await client.call(T.OPENDIR, str('/d')));
    assert.equal(statusOf(await client.call(T.READ, str(dh), u64(0), u32(1))).code, FX.FAILURE);
    const fh = await client.open('/x', pflags.WRITE | pflags.CREAT);
    assert.equal(statusOf(await client.call(T.READDIR, str(fh))).code, FX.FAILURE);
    assert.equal(statusOf(await client.call(T.CLOSE, str(fh))).code, FX.OK);
    assert.equal(statusOf(await client.call(T.CLOSE, str(fh))).code, FX.FAILURE);
    assert.equal(statusOf(await client.call(T.WRITE, str(fh), u64(0), str('x'))).code, FX.FAILURE);
    client.socket.end();
  });

  it('refuses handles beyond the per-connection limit, also when OPENs are pipelined', async () => {
    const files = new MemoryFiles();
    const { client, session } = await ready(files, { maxOpenHandles: 5 });
    const ids = Array.from({ length: 8 }, () => client.id());
    for (const [i, id] of ids.entries()) {
      client.write(request(T.OPEN, id, str(`/f${i}`), u32(pflags.WRITE | pflags.CREAT), noAttrs));
    }
    const replies = await Promise.all(ids.map((id) => client.reply(id)));
    const handles = replies.filter((r) => r.type === T.HANDLE).map(handleOf);
    const refused = replies.filter((r) => r.type === T.STATUS).map(statusOf);
    assert.equal(handles.length, 5);
    assert.deepEqual(
      refused.map((s) => [s.code, s.message]),
      Array.from({ length: 3 }, () => [FX.FAILURE, 'too many open handles']),
    );
    for (const h of handles) assert.ok(h.length >= 4 && h.length <= 16);
    assert.equal(new Set(handles.map((h) => h.toString('hex'))).size, 5);
    assert.equal(session.openHandles, 5);
    assert.equal(statusOf(await client.call(T.CLOSE, str(handles[0]!))).code, FX.OK);
    await client.open('/again', pflags.WRITE | pflags.CREAT);
    client.socket.end();
  });

  it('aborts open uploads and closes directories when the stream ends without CLOSE', async () => {
    const files = new MemoryFiles();
    let releaseWrite!: () => void;
    const gate = new Promise<void>((r) => {
      releaseWrite = r;
    });
    const { client, session } = await ready(files);
    const up = await client.open('/partial', pflags.WRITE | pflags.CREAT);
    await client.open('/other', pflags.WRITE | pflags.CREAT);
    handleOf(await client.call(T.OPENDIR, str('/')));
    assert.equal(statusOf(await client.call(T.WRITE, str(up), u64(0), str('abc'))).code, FX.OK);
    // One write still in the FileSession when the client vanishes.
    files.hooks.beforeWrite = () => gate;
    client.write(request(T.WRITE, client.id(), str(up), u64(3), str('def')));
    await sleep(20);
    client.socket.destroy();
    await sleep(20);
    assert.equal(files.aborted.length, 0, 'abort waits for the in-flight write');
    releaseWrite();
    const summary = await session.closed;
    assert.equal(summary.reason, 'client-ended');
    assert.equal(summary.abortedFiles, 2);
    assert.deepEqual(files.aborted.map((a) => a.path).sort(), ['/other', '/partial']);
    assert.equal(files.aborted[0]?.reason, 'the connection ended before CLOSE');
    assert.deepEqual(files.closed, ['/']);
    assert.equal(files.files.has('/partial'), false);
    assert.equal(summary.bytesIn, 6);
  });

  it('end() from the server side aborts uploads and ends the stream', async () => {
    const files = new MemoryFiles();
    const { client, session } = await ready(files);
    await client.open('/u', pflags.WRITE | pflags.CREAT);
    session.end('session revoked');
    const summary = await session.closed;
    assert.deepEqual([summary.reason, summary.abortedFiles], ['server-ended', 1]);
    assert.deepEqual(files.aborted, [{ path: '/u', reason: 'session revoked' }]);
    await client.ended;
  });
});

describe('SFTP session: malformed input', () => {
  it('answers BAD_MESSAGE for bad strings and trailing bytes, and keeps going', async () => {
    const { client, files } = await ready();
    const cases: Array<[string, Buffer]> = [
      ['string length past the end', Buffer.concat([u32(100), Buffer.from('abc')])],
      ['truncated string length', Buffer.from([0, 0])],
      ['garbage after the request', Buffer.concat([str('/'), Buffer.from('junk')])],
      ['NUL byte in the path', str(Buffer.from('/a\0b'))],
      ['invalid UTF-8', str(Buffer.from([0x2f, 0xc3, 0x28]))],
    ];
    for (const [label, body] of cases) {
      const id = client.id();
      client.write(request(T.STAT, id, body));
      const status = statusOf(await client.reply(id));
      assert.equal(status.code, FX.BAD_MESSAGE, label);
    }
    const nul = statusOf(await client.call(T.OPEN, str(Buffer.from('/x\0')), u32(pflags.READ), noAttrs));
    assert.deepEqual([nul.code, nul.message], [FX.BAD_MESSAGE, 'path contains a NUL byte']);
    const rename = statusOf(await client.call(T.RENAME, str('/ok'), str(Buffer.from([0xff]))));
    assert.deepEqual([rename.code, rename.message], [FX.BAD_MESSAGE, 'new path is not valid UTF-8']);
    const offset = statusOf(await client.call(T.READ, str('h'), u64(2n ** 63n), u32(1)));
    assert.equal(offset.code, FX.BAD_MESSAGE);
    assert.deepEqual(
      files.calls.filter((c) => c.startsWith('stat') || c.startsWith('open')),
      [],
      'nothing malformed reached the FileSession',
    );
    // Still serving.
    assert.equal(attrsOf(await client.call(T.STAT, str('/'))).mode, 0o040755);
    const unknown = statusOf(await client.call(99));
    assert.equal(unknown.code, FX.OP_UNSUPPORTED);
    client.socket.end();
  });

  for (const [label, bytes] of [
    ['a zero-length packet', u32(0)],
    ['a packet shorter than type + id', Buffer.concat([u32(4), Buffer.from([T.STAT, 0, 0, 0])])],
    ['an oversized length', u32(300 * 1024)],
    ['a length of 4 GiB - 1', u32(0xffffffff)],
  ] as const) {
    it(`ends the session on ${label}`, async () => {
      const files = new MemoryFiles();
      const { client, session, logged } = await ready(files);
      await client.open('/open-upload', pflags.WRITE | pflags.CREAT);
      client.write(bytes);
      const summary = await session.closed;
      assert.equal(summary.reason, 'protocol-error');
      assert.equal(summary.abortedFiles, 1);
      await client.ended;
      assert.equal(logged.filter((l) => l.level === 'warn').length, 1);
    });
  }
});

describe('SFTP session: client quirks', () => {
  it('writes only the declared data of a WRITE whose packet runs on (Go pkg/sftp ReadFrom)', async () => {
    const { client, files } = await ready();
    const handle = await client.open('/rclone.bin', pflags.WRITE | pflags.CREAT | pflags.TRUNC);
    const content = Buffer.alloc(40_000);
    for (let i = 0; i < content.length; i++) content[i] = (i * 13) % 251;
    // As pkg/sftp 1.13.5 sends it: one 32 KiB buffer per WRITE, the last one stale past its length.
    const buffer = Buffer.alloc(32_768, 0xee);
    const ids: number[] = [];
    for (let off = 0; off < content.length; off += buffer.length) {
      const n = content.copy(buffer, 0, off, off + buffer.length);
      const id = client.id();
      ids.push(id);
      client.write(request(T.WRITE, id, str(handle), u64(off), u32(n), buffer));
    }
    for (const id of ids) assert.equal(statusOf(await client.reply(id)).code, FX.OK);
    assert.equal(statusOf(await client.call(T.CLOSE, str(handle))).code, FX.OK);
    assert.deepEqual(files.files.get('/rclone.bin'), content);
    client.socket.end();
  });
});

describe('SFTP session: FileError mapping', () => {
  const expected: Record<FileErrorCode, number> = {
    'not-found': FX.NO_SUCH_FILE,
    'permission-denied': FX.PERMISSION_DENIED,
    'invalid-path': FX.PERMISSION_DENIED,
    'already-exists': FX.FAILURE,
    'not-empty': FX.FAILURE,
    'is-a-directory': FX.FAILURE,
    'not-a-directory': FX.FAILURE,
    'no-space': FX.FAILURE,
    'too-many-handles': FX.FAILURE,
    'digest-mismatch': FX.FAILURE,
    'too-large': FX.FAILURE,
    'quota-exceeded': FX.FAILURE,
    failure: FX.FAILURE,
    unsupported: FX.OP_UNSUPPORTED,
  };

  it('maps every FileError code, with the core message', async () => {
    const files = new MemoryFiles();
    const { client, logged } = await ready(files);
    for (const [code, sftpCode] of Object.entries(expected)) {
      files.failures.set(`/${code}`, new FileError(code as FileErrorCode, `because ${code}`));
      const status = statusOf(await client.call(T.STAT, str(`/${code}`)));
      assert.deepEqual([status.code, status.message], [sftpCode, `because ${code}`], code);
      assert.equal(status.language, 'en');
    }
    assert.equal(logged.length, 0);
    client.socket.end();
  });

  it('answers FAILURE "internal error" for anything else, logging it without leaking it', async () => {
    const files = new MemoryFiles();
    const { client, logged } = await ready(files);
    files.failures.set('/boom', new Error('database password is hunter2'));
    const status = statusOf(await client.call(T.REMOVE, str('/boom')));
    assert.deepEqual([status.code, status.message], [FX.FAILURE, 'internal error']);
    assert.equal(logged.length, 1);
    assert.equal(logged[0]?.level, 'error');
    assert.deepEqual({ ...logged[0]?.details, err: undefined }, { request: 'remove', id: 1, err: undefined });
    client.socket.end();
  });
});

describe('SFTP session: pipelining and back-pressure', () => {
  it('answers each of 64 pipelined WRITEs and 64 READs exactly once, completing out of order', async () => {
    const files = new MemoryFiles();
    const chunk = 4096;
    const content = Buffer.alloc(64 * chunk);
    for (let i = 0; i < content.length; i++) content[i] = (i * 31) % 256;
    const { client } = await ready(files);
    const wh = await client.open('/pipe', pflags.WRITE | pflags.CREAT);
    const order: number[] = [];
    files.hooks.beforeWrite = async (offset) => {
      await sleep(Math.floor(Math.random() * 15));
      order.push(offset / chunk);
    };
    const writeIds: number[] = [];
    for (let i = 0; i < 64; i++) {
      const id = client.id();
      writeIds.push(id);
      client.write(
        request(T.WRITE, id, str(wh), u64(i * chunk), str(content.subarray(i * chunk, (i + 1) * chunk))),
      );
    }
    for (const id of writeIds) assert.equal(statusOf(await client.reply(id)).code, FX.OK);
    assert.notDeepEqual(
      order,
      [...order].sort((a, b) => a - b),
      'completions were out of order',
    );
    assert.equal(statusOf(await client.call(T.CLOSE, str(wh))).code, FX.OK);

    files.hooks.beforeRead = () => sleep(Math.floor(Math.random() * 15));
    const rh = await client.open('/pipe', pflags.READ);
    const readIds: number[] = [];
    for (let i = 0; i < 64; i++) {
      const id = client.id();
      readIds.push(id);
      client.write(request(T.READ, id, str(rh), u64(i * chunk), u32(chunk)));
    }
    const parts = await Promise.all(readIds.map(async (id) => dataOf(await client.reply(id))));
    assert.deepEqual(Buffer.concat(parts), content);
    await sleep(30);
    for (const [id, count] of client.replyCounts()) assert.equal(count, 1, `id ${id}`);
    assert.equal(client.replyCounts().size, client.replies.length - 1); // all but VERSION
    client.socket.end();
  });

  it('never has more than maxInFlight requests in the FileSession and stops reading meanwhile', async () => {
    const files = new MemoryFiles();
    const gates: Array<() => void> = [];
    files.hooks.beforeWrite = () => new Promise<void>((r) => gates.push(r));
    const { client, session } = await ready(files, { maxInFlight: 8 });
    const wh = await client.open('/slow', pflags.WRITE | pflags.CREAT);
    const requestsBefore = session.requests;
    const ids: number[] = [];
    for (let i = 0; i < 200; i++) {
      const id = client.id();
      ids.push(id);
      client.write(request(T.WRITE, id, str(wh), u64(i * 100), str(Buffer.alloc(100, i))));
    }
    await sleep(50);
    assert.equal(files.writesInFlight, 8);
    assert.equal(session.requests - requestsBefore, 8, 'requests beyond the bound stay unparsed');
    // Let writes finish one by one, in reverse order of arrival.
    while (client.replyCounts().size < ids.length + 1) {
      const gate = gates.pop();
      if (gate) gate();
      await sleep(0);
      if (!gate) await sleep(5);
    }
    assert.equal(files.maxWritesInFlight, 8);
    for (const id of ids) assert.equal(statusOf(await client.reply(id)).code, FX.OK);
    client.socket.end();
  });

  it('pauses the channel once the read-ahead is used up, resumes when under the bound', async () => {
    const files = new MemoryFiles();
    const gates: Array<() => void> = [];
    files.hooks.beforeWrite = () => new Promise<void>((r) => gates.push(r));
    const { client, session, serverSocket } = await ready(files, {
      maxInFlight: 4,
      maxReadAhead: 256 * 1024,
    });
    const wh = await client.open('/big-writes', pflags.WRITE | pflags.CREAT);
    const ids: number[] = [];
    const block = Buffer.alloc(64 * 1024, 7);
    for (let i = 0; i < 200; i++) {
      const id = client.id();
      ids.push(id);
      client.write(request(T.WRITE, id, str(wh), u64(i * block.length), str(block)));
    }
    await sleep(100);
    assert.equal(files.writesInFlight, 4);
    assert.equal(serverSocket.isPaused(), true);
    const sent = 200 * (block.length + 30);
    assert.ok(serverSocket.bytesRead < 1024 * 1024, `read ${serverSocket.bytesRead} of ${sent} bytes`);
    files.hooks.beforeWrite = undefined;
    for (const gate of gates.splice(0)) gate();
    for (const id of ids) assert.equal(statusOf(await client.reply(id)).code, FX.OK);
    assert.equal(session.bytesIn, 200 * block.length);
    assert.equal(files.maxWritesInFlight, 4);
    client.socket.end();
  });

  it('stops dispatching while the client does not read its replies', async () => {
    const files = new MemoryFiles();
    files.files.set('/block', Buffer.alloc(261_120, 1));
    const { client, session } = await ready(files);
    const rh = await client.open('/block', pflags.READ);
    const count = 400; // ~100 MiB of DATA replies
    client.socket.pause();
    const ids: number[] = [];
    for (let i = 0; i < count; i++) {
      const id = client.id();
      ids.push(id);
      client.write(request(T.READ, id, str(rh), u64(0), u32(261_120)));
    }
    await sleep(300);
    const readsWhileBlocked = files.reads;
    assert.ok(readsWhileBlocked < count / 2, `${readsWhileBlocked} of ${count} reads dispatched`);
    client.socket.resume();
    await Promise.all(ids.map((id) => client.reply(id)));
    assert.equal(files.reads, count);
    assert.equal(session.bytesOut, count * 261_120);
    client.socket.end();
  });
});
