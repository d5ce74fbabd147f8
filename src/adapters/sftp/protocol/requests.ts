/**
 * Parsing of client requests. Every request is checked strictly: strings within bounds, paths
 * valid UTF-8 without NUL, nothing after the last field. A malformed request whose id could be
 * read is answered BAD_MESSAGE; one whose id could not be read ends the session.
 */
import type { FileAttributes, OpenFlags } from '../../../application/files/file-session.js';
import { decodeAttrs } from './attrs.js';
import { OpenFlag, PacketType } from './constants.js';
import { MalformedPacket, PacketReader } from './reader.js';

export type SftpRequest =
  | { kind: 'open'; id: number; path: string; flags: OpenFlags; attrs: FileAttributes }
  | { kind: 'close'; id: number; handle: Buffer }
  | { kind: 'read'; id: number; handle: Buffer; offset: number; length: number }
  | { kind: 'write'; id: number; handle: Buffer; offset: number; data: Buffer }
  | { kind: 'stat' | 'lstat'; id: number; path: string }
  | { kind: 'fstat'; id: number; handle: Buffer }
  | { kind: 'setstat'; id: number; path: string; attrs: FileAttributes }
  | { kind: 'fsetstat'; id: number; handle: Buffer; attrs: FileAttributes }
  | { kind: 'opendir'; id: number; path: string }
  | { kind: 'readdir'; id: number; handle: Buffer }
  | { kind: 'remove' | 'rmdir' | 'realpath' | 'readlink'; id: number; path: string }
  | { kind: 'mkdir'; id: number; path: string; attrs: FileAttributes }
  | { kind: 'rename' | 'posix-rename' | 'hardlink'; id: number; from: string; to: string }
  | { kind: 'symlink'; id: number; linkPath: string; targetPath: string }
  | { kind: 'statvfs'; id: number; path: string }
  | { kind: 'fstatvfs' | 'fsync'; id: number; handle: Buffer }
  | { kind: 'limits'; id: number }
  /** An unknown packet type or extension name. */
  | { kind: 'unsupported'; id: number; what: string };

export type SftpRequestKind = SftpRequest['kind'];

export type ParsedRequest =
  | {
      readonly ok: true;
      readonly request: SftpRequest;
      /** Bytes after a WRITE's data, ignored (see `parseRequest`); absent when there are none. */
      readonly ignoredBytes?: number;
    }
  | { readonly ok: false; readonly id: number | undefined; readonly message: string };

export interface InitRequest {
  readonly version: number;
  readonly extensions: ReadonlyArray<readonly [string, Buffer]>;
}

/** INIT: uint32 version, then optional extension pairs. Throws `MalformedPacket`. */
export function parseInit(packet: Buffer): InitRequest {
  const reader = new PacketReader(packet, 1);
  const version = reader.u32('version');
  const extensions: Array<readonly [string, Buffer]> = [];
  while (reader.remaining > 0) {
    extensions.push([reader.bytes('extension name').toString('latin1'), reader.bytes('extension data')]);
  }
  return { version, extensions };
}

function openFlags(pflags: number): OpenFlags {
  return {
    read: (pflags & OpenFlag.READ) !== 0,
    write: (pflags & OpenFlag.WRITE) !== 0,
    append: (pflags & OpenFlag.APPEND) !== 0,
    create: (pflags & OpenFlag.CREAT) !== 0,
    truncate: (pflags & OpenFlag.TRUNC) !== 0,
    exclusive: (pflags & OpenFlag.EXCL) !== 0,
  };
}

function parseExtended(id: number, r: PacketReader): SftpRequest {
  const nameBytes = r.bytes('extension name');
  const name = nameBytes.toString('latin1');
  switch (name) {
    case 'posix-rename@openssh.com':
      return { kind: 'posix-rename', id, from: r.path('old path'), to: r.path('new path') };
    case 'hardlink@openssh.com':
      return { kind: 'hardlink', id, from: r.path('old path'), to: r.path('new path') };
    case 'statvfs@openssh.com':
      return { kind: 'statvfs', id, path: r.path() };
    case 'fstatvfs@openssh.com':
      return { kind: 'fstatvfs', id, handle: r.bytes('handle') };
    case 'fsync@openssh.com':
      return { kind: 'fsync', id, handle: r.bytes('handle') };
    case 'limits@openssh.com':
      return { kind: 'limits', id };
    default: {
      // Unknown extensions carry data we cannot check; no trailing-bytes rule applies.
      const printable = /^[\x20-\x7e]{1,64}$/.test(name) ? name : 'an unknown extension';
      return { kind: 'unsupported', id, what: printable };
    }
  }
}

function parseBody(type: number, id: number, r: PacketReader): SftpRequest {
  switch (type) {
    case PacketType.OPEN: {
      const path = r.path();
      const pflags = r.u32('open flags');
      return { kind: 'open', id, path, flags: openFlags(pflags), attrs: decodeAttrs(r) };
    }
    case PacketType.CLOSE:
      return { kind: 'close', id, handle: r.bytes('handle') };
    case PacketType.READ: {
      const handle = r.bytes('handle');
      const offset = r.u64('offset');
      return { kind: 'read', id, handle, offset, length: r.u32('length') };
    }
    case PacketType.WRITE: {
      const handle = r.bytes('handle');
      const offset = r.u64('offset');
      return { kind: 'write', id, handle, offset, data: r.bytes('data') };
    }
    case PacketType.LSTAT:
      return { kind: 'lstat', id, path: r.path() };
    case PacketType.STAT:
      return { kind: 'stat', id, path: r.path() };
    case PacketType.FSTAT:
      return { kind: 'fstat', id, handle: r.bytes('handle') };
    case PacketType.SETSTAT: {
      const path = r.path();
      return { kind: 'setstat', id, path, attrs: decodeAttrs(r) };
    }
    case PacketType.FSETSTAT: {
      const handle = r.bytes('handle');
      return { kind: 'fsetstat', id, handle, attrs: decodeAttrs(r) };
    }
    case PacketType.OPENDIR:
      return { kind: 'opendir', id, path: r.path() };
    case PacketType.READDIR:
      return { kind: 'readdir', id, handle: r.bytes('handle') };
    case PacketType.REMOVE:
      return { kind: 'remove', id, path: r.path() };
    case PacketType.MKDIR: {
      const path = r.path();
      return { kind: 'mkdir', id, path, attrs: decodeAttrs(r) };
    }
    case PacketType.RMDIR:
      return { kind: 'rmdir', id, path: r.path() };
    case PacketType.REALPATH:
      return { kind: 'realpath', id, path: r.path() };
    case PacketType.RENAME:
      return { kind: 'rename', id, from: r.path('old path'), to: r.path('new path') };
    case PacketType.READLINK:
      return { kind: 'readlink', id, path: r.path() };
    case PacketType.SYMLINK:
      // OpenSSH sends (target, link) in the opposite order to the draft; we refuse both.
      return { kind: 'symlink', id, linkPath: r.path('link path'), targetPath: r.path('target path') };
    case PacketType.EXTENDED:
      return parseExtended(id, r);
    default:
      return { kind: 'unsupported', id, what: `packet type ${type}` };
  }
}

/**
 * Parses a request packet (type byte first). INIT is parsed by `parseInit`.
 *
 * One exception to "nothing after the last field": bytes after a WRITE's data are ignored.
 * Go's pkg/sftp up to 1.13.5 (rclone 1.60 in Debian 12, among others) sends, in
 * `ReadFromWithConcurrency`, its whole 32 KiB buffer after the data length of the last, shorter
 * chunk of every file that is not a multiple of 32 KiB. The data length is right, and OpenSSH's
 * sftp-server skips whatever follows a request, so such clients work everywhere else.
 */
export function parseRequest(packet: Buffer): ParsedRequest {
  const reader = new PacketReader(packet, 0);
  let id: number | undefined;
  try {
    const type = reader.u8('packet type');
    id = reader.u32('request id');
    const request = parseBody(type, id, reader);
    if (request.kind === 'write' && reader.remaining > 0) {
      return { ok: true, request, ignoredBytes: reader.remaining };
    }
    if (request.kind !== 'unsupported') reader.end();
    return { ok: true, request };
  } catch (error) {
    if (error instanceof MalformedPacket) return { ok: false, id, message: error.message };
    throw error;
  }
}
