/** Framing, request parsing, ATTRS and reply builders, without a stream. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeAttrs, encodeAttrs } from '../../src/adapters/sftp/protocol/attrs.js';
import { FramingError, PacketFramer } from '../../src/adapters/sftp/protocol/framing.js';
import { PacketReader } from '../../src/adapters/sftp/protocol/reader.js';
import { parseInit, parseRequest } from '../../src/adapters/sftp/protocol/requests.js';
import { dataPacket, statusPacket } from '../../src/adapters/sftp/protocol/responses.js';
import { PacketWriter } from '../../src/adapters/sftp/protocol/writer.js';
import { noAttrs, packet, request, str, T, u32, u64 } from './support/raw-client.js';

const strip = (framed: Buffer): Buffer => framed.subarray(4);

describe('PacketFramer', () => {
  it('reassembles packets split at every byte boundary', () => {
    const stream = Buffer.concat([
      packet(T.INIT, u32(3)),
      request(T.WRITE, 7, str('h'), u64(5), str(Buffer.alloc(1000, 9))),
      request(T.STAT, 8, str('/x')),
    ]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const framer = new PacketFramer(262_144);
      const out: Buffer[] = [];
      for (const part of [stream.subarray(0, cut), stream.subarray(cut)]) {
        framer.push(part);
        for (let p = framer.next(); p; p = framer.next()) out.push(Buffer.from(p));
      }
      assert.equal(out.length, 3, `cut at ${cut}`);
      assert.equal(framer.bufferedBytes, 0);
      assert.deepEqual(out[1], strip(request(T.WRITE, 7, str('h'), u64(5), str(Buffer.alloc(1000, 9)))));
    }
  });

  it('reassembles packets fed one byte at a time', () => {
    const stream = Buffer.concat([request(T.STAT, 1, str('/a')), request(T.STAT, 2, str('/b'))]);
    const framer = new PacketFramer(1024);
    const out: Buffer[] = [];
    for (const byte of stream) {
      framer.push(Buffer.from([byte]));
      for (let p = framer.next(); p; p = framer.next()) out.push(p);
    }
    assert.deepEqual(out, [strip(request(T.STAT, 1, str('/a'))), strip(request(T.STAT, 2, str('/b')))]);
  });

  it('returns a packet inside one chunk as a view, without copying', () => {
    const chunk = request(T.STAT, 1, str('/a'));
    const framer = new PacketFramer(1024);
    framer.push(chunk);
    const p = framer.next()!;
    assert.equal(p.buffer, chunk.buffer);
  });

  it('refuses lengths below 5 and above the maximum', () => {
    for (const length of [0, 1, 4, 1025, 0xffffffff]) {
      const framer = new PacketFramer(1024);
      framer.push(u32(length));
      assert.throws(() => framer.next(), FramingError, `length ${length}`);
    }
    const framer = new PacketFramer(1024);
    framer.push(u32(1024));
    assert.equal(framer.next(), null, 'a maximal packet is waited for');
  });
});

describe('parseRequest', () => {
  const parse = (framed: Buffer) => parseRequest(strip(framed));

  it('parses every request type', () => {
    const attrs = Buffer.concat([u32(0x1 | 0x4), u64(42), u32(0o644)]);
    const h = Buffer.from([0, 0, 0, 1]);
    const cases: Array<[Buffer, object]> = [
      [
        request(T.OPEN, 1, str('/f'), u32(0x1a), attrs),
        {
          kind: 'open',
          id: 1,
          path: '/f',
          flags: { read: false, write: true, append: false, create: true, truncate: true, exclusive: false },
          attrs: { size: 42, mode: 0o644 },
        },
      ],
      [request(T.CLOSE, 2, str(h)), { kind: 'close', id: 2, handle: h }],
      [
        request(T.READ, 3, str(h), u64(2 ** 40), u32(5)),
        { kind: 'read', id: 3, handle: h, offset: 2 ** 40, length: 5 },
      ],
      [
        request(T.WRITE, 4, str(h), u64(9), str('data')),
        { kind: 'write', id: 4, handle: h, offset: 9, data: Buffer.from('data') },
      ],
      [request(T.LSTAT, 5, str('/l')), { kind: 'lstat', id: 5, path: '/l' }],
      [request(T.FSTAT, 6, str(h)), { kind: 'fstat', id: 6, handle: h }],
      [request(T.SETSTAT, 7, str('/s'), noAttrs), { kind: 'setstat', id: 7, path: '/s', attrs: {} }],
      [
        request(T.FSETSTAT, 8, str(h), attrs),
        { kind: 'fsetstat', id: 8, handle: h, attrs: { size: 42, mode: 0o644 } },
      ],
      [request(T.OPENDIR, 9, str('/d')), { kind: 'opendir', id: 9, path: '/d' }],
      [request(T.READDIR, 10, str(h)), { kind: 'readdir', id: 10, handle: h }],
      [request(T.REMOVE, 11, str('/r')), { kind: 'remove', id: 11, path: '/r' }],
      [request(T.MKDIR, 12, str('/m'), noAttrs), { kind: 'mkdir', id: 12, path: '/m', attrs: {} }],
      [request(T.RMDIR, 13, str('/m')), { kind: 'rmdir', id: 13, path: '/m' }],
      [request(T.REALPATH, 14, str('.')), { kind: 'realpath', id: 14, path: '.' }],
      [request(T.STAT, 15, str('/é')), { kind: 'stat', id: 15, path: '/é' }],
      [request(T.RENAME, 16, str('/a'), str('/b')), { kind: 'rename', id: 16, from: '/a', to: '/b' }],
      [request(T.READLINK, 17, str('/l')), { kind: 'readlink', id: 17, path: '/l' }],
      [
        request(T.SYMLINK, 18, str('/a'), str('/b')),
        { kind: 'symlink', id: 18, linkPath: '/a', targetPath: '/b' },
      ],
      [
        request(T.EXTENDED, 19, str('posix-rename@openssh.com'), str('/a'), str('/b')),
        { kind: 'posix-rename', id: 19, from: '/a', to: '/b' },
      ],
      [request(T.EXTENDED, 20, str('statvfs@openssh.com'), str('/')), { kind: 'statvfs', id: 20, path: '/' }],
      [request(T.EXTENDED, 21, str('fstatvfs@openssh.com'), str(h)), { kind: 'fstatvfs', id: 21, handle: h }],
      [request(T.EXTENDED, 22, str('fsync@openssh.com'), str(h)), { kind: 'fsync', id: 22, handle: h }],
      [request(T.EXTENDED, 23, str('limits@openssh.com')), { kind: 'limits', id: 23 }],
      [
        request(T.EXTENDED, 24, str('hardlink@openssh.com'), str('/a'), str('/b')),
        { kind: 'hardlink', id: 24, from: '/a', to: '/b' },
      ],
      [
        request(T.EXTENDED, 25, str('home-directory'), str('u')),
        { kind: 'unsupported', id: 25, what: 'home-directory' },
      ],
      [request(77, 26), { kind: 'unsupported', id: 26, what: 'packet type 77' }],
    ];
    for (const [framed, expected] of cases) {
      assert.deepEqual(parse(framed), { ok: true, request: expected });
    }
  });

  it('answers malformed requests with their id and a reason', () => {
    const cases: Array<[Buffer, string]> = [
      [request(T.STAT, 1, u32(10), Buffer.from('/a')), 'truncated packet: path runs past the end'],
      [request(T.STAT, 2, Buffer.from([0, 0, 0])), 'truncated packet: path length runs past the end'],
      [request(T.STAT, 3, str('/a'), Buffer.from([1])), '1 unexpected bytes after the request'],
      [request(T.STAT, 4, str(Buffer.from('/a\0'))), 'path contains a NUL byte'],
      [request(T.STAT, 5, str(Buffer.from([0xed, 0xa0, 0x80]))), 'path is not valid UTF-8'],
      [request(T.READ, 6, str('h'), u64(2n ** 53n), u32(1)), 'offset is too large'],
      [request(T.OPEN, 7, str('/f'), u32(1)), 'truncated packet: attribute flags runs past the end'],
      [
        request(T.SETSTAT, 8, str('/f'), u32(0x80000000), u32(2), str('a')),
        'truncated packet: extended attribute data length runs past the end',
      ],
      [
        request(T.EXTENDED, 9, str('limits@openssh.com'), Buffer.from([0])),
        '1 unexpected bytes after the request',
      ],
    ];
    for (const [framed, message] of cases) {
      const id = framed.readUInt32BE(5);
      assert.deepEqual(parse(framed), { ok: false, id, message });
    }
  });

  it('takes a WRITE whose packet runs on past its data (Go pkg/sftp up to 1.13.5, as in rclone)', () => {
    // pkg/sftp's ReadFrom sends its whole 32 KiB buffer after the last, shorter data length;
    // OpenSSH's server ignores what follows a request, so those clients only fail elsewhere.
    const h = Buffer.from([0, 0, 0, 1]);
    const buffer = Buffer.alloc(32_768, 0xab);
    const framed = request(T.WRITE, 5, str(h), u64(65_536), u32(7_232), buffer);
    assert.deepEqual(parse(framed), {
      ok: true,
      request: { kind: 'write', id: 5, handle: h, offset: 65_536, data: buffer.subarray(0, 7_232) },
      ignoredBytes: 32_768 - 7_232,
    });
    const short = request(T.WRITE, 6, str(h), u64(0), u32(40_000), buffer);
    assert.deepEqual(parse(short), { ok: false, id: 6, message: 'truncated packet: data runs past the end' });
  });

  it('keeps a UTF-8 byte order mark in paths', () => {
    const parsed = parse(request(T.STAT, 1, str('\uFEFFname')));
    assert.ok(parsed.ok && parsed.request.kind === 'stat' && parsed.request.path === '\uFEFFname');
  });

  it('parses INIT with and without extension pairs', () => {
    assert.deepEqual(parseInit(strip(packet(T.INIT, u32(3)))), { version: 3, extensions: [] });
    const withExt = parseInit(strip(packet(T.INIT, u32(6), str('x@y'), str('1'))));
    assert.equal(withExt.extensions[0]?.[0], 'x@y');
    assert.throws(() => parseInit(strip(packet(T.INIT, u32(3), str('x')))));
  });
});

describe('ATTRS and replies', () => {
  it('round-trips attributes', () => {
    for (const attrs of [
      {},
      { size: 2 ** 40 + 3 },
      { uid: 1, gid: 2 },
      { mode: 0o100644, atime: 100, mtime: 200 },
      { size: 0, uid: 0, gid: 0, mode: 0o040755, atime: 0, mtime: 0 },
    ]) {
      const writer = new PacketWriter(T.ATTRS);
      encodeAttrs(writer, attrs);
      const framed = writer.finish();
      assert.deepEqual(decodeAttrs(new PacketReader(framed, 5)), attrs);
    }
  });

  it('builds STATUS with message and language tag', () => {
    const framed = statusPacket(9, 4, 'too many open handles');
    assert.deepEqual(
      framed,
      Buffer.concat([
        u32(framed.length - 4),
        Buffer.from([T.STATUS]),
        u32(9),
        u32(4),
        str('too many open handles'),
        str('en'),
      ]),
    );
  });

  it('builds DATA as one buffer when small, as header + the payload itself when large', () => {
    const small = dataPacket(1, Buffer.from('abc'));
    assert.equal(small.length, 1);
    assert.deepEqual(small[0], Buffer.concat([u32(12), Buffer.from([T.DATA]), u32(1), str('abc')]));
    const payload = Buffer.alloc(100_000, 3);
    const [header, body] = dataPacket(2, payload);
    assert.equal(body, payload);
    assert.deepEqual(header, Buffer.concat([u32(9 + 100_000), Buffer.from([T.DATA]), u32(2), u32(100_000)]));
  });
});
