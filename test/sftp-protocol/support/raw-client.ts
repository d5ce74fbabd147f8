/**
 * A byte-level SFTP client for protocol tests: builds packets by hand (so malformed ones are
 * easy), records every reply in arrival order, and connects to a session over a real TCP
 * socket pair on 127.0.0.1 (real back-pressure, real half-close).
 */
import { once } from 'node:events';
import net from 'node:net';
import { SftpProtocolSession, type SftpSessionOptions } from '../../../src/adapters/sftp/protocol/server.js';
import type { SftpLogger } from '../../../src/adapters/sftp/protocol/status.js';
import type { FileSession } from '../../../src/application/files/file-session.js';

export const T = {
  INIT: 1,
  VERSION: 2,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  LSTAT: 7,
  FSTAT: 8,
  SETSTAT: 9,
  FSETSTAT: 10,
  OPENDIR: 11,
  READDIR: 12,
  REMOVE: 13,
  MKDIR: 14,
  RMDIR: 15,
  REALPATH: 16,
  STAT: 17,
  RENAME: 18,
  READLINK: 19,
  SYMLINK: 20,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
  NAME: 104,
  ATTRS: 105,
  EXTENDED: 200,
  EXTENDED_REPLY: 201,
} as const;

export const FX = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  OP_UNSUPPORTED: 8,
} as const;

// ---- field encoders -------------------------------------------------------------------

export const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
export const u64 = (n: number | bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};
export const str = (s: string | Buffer): Buffer => {
  const bytes = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return Buffer.concat([u32(bytes.length), bytes]);
};
export const noAttrs = u32(0);

/** A packet: length, type, then the given body parts. */
export function packet(type: number, ...body: Buffer[]): Buffer {
  const payload = Buffer.concat([Buffer.from([type]), ...body]);
  return Buffer.concat([u32(payload.length), payload]);
}

/** A request: type, id, body. */
export function request(type: number, id: number, ...body: Buffer[]): Buffer {
  return packet(type, u32(id), ...body);
}

export const pflags = { READ: 1, WRITE: 2, APPEND: 4, CREAT: 8, TRUNC: 0x10, EXCL: 0x20 } as const;

// ---- replies --------------------------------------------------------------------------

export interface RawReply {
  readonly type: number;
  /** Request id (undefined for VERSION). */
  readonly id: number | undefined;
  /** Body after the id (after the type for VERSION). */
  readonly body: Buffer;
}

export function statusOf(reply: RawReply): { code: number; message: string; language: string } {
  assertType(reply, T.STATUS);
  const code = reply.body.readUInt32BE(0);
  const msgLen = reply.body.readUInt32BE(4);
  const message = reply.body.subarray(8, 8 + msgLen).toString('utf8');
  const langLen = reply.body.readUInt32BE(8 + msgLen);
  const language = reply.body.subarray(12 + msgLen, 12 + msgLen + langLen).toString('utf8');
  return { code, message, language };
}

export function handleOf(reply: RawReply): Buffer {
  if (reply.type === T.STATUS)
    throw new Error(`expected HANDLE, got STATUS ${JSON.stringify(statusOf(reply))}`);
  assertType(reply, T.HANDLE);
  return reply.body.subarray(4, 4 + reply.body.readUInt32BE(0));
}

export function dataOf(reply: RawReply): Buffer {
  assertType(reply, T.DATA);
  const length = reply.body.readUInt32BE(0);
  if (reply.body.length !== 4 + length) throw new Error('DATA length mismatch');
  return reply.body.subarray(4);
}

export interface RawAttrs {
  size?: bigint;
  uid?: number;
  gid?: number;
  mode?: number;
  atime?: number;
  mtime?: number;
}

function readAttrs(buf: Buffer, start: number): { attrs: RawAttrs; end: number } {
  let p = start;
  const flags = buf.readUInt32BE(p);
  p += 4;
  const attrs: RawAttrs = {};
  if (flags & 1) {
    attrs.size = buf.readBigUInt64BE(p);
    p += 8;
  }
  if (flags & 2) {
    attrs.uid = buf.readUInt32BE(p);
    attrs.gid = buf.readUInt32BE(p + 4);
    p += 8;
  }
  if (flags & 4) {
    attrs.mode = buf.readUInt32BE(p);
    p += 4;
  }
  if (flags & 8) {
    attrs.atime = buf.readUInt32BE(p);
    attrs.mtime = buf.readUInt32BE(p + 4);
    p += 8;
  }
  return { attrs, end: p };
}

export function attrsOf(reply: RawReply): RawAttrs {
  assertType(reply, T.ATTRS);
  const { attrs, end } = readAttrs(reply.body, 0);
  if (end !== reply.body.length) throw new Error('ATTRS length mismatch');
  return attrs;
}

export function namesOf(reply: RawReply): Array<{ name: string; longname: string; attrs: RawAttrs }> {
  assertType(reply, T.NAME);
  const count = reply.body.readUInt32BE(0);
  let p = 4;
  const out: Array<{ name: string; longname: string; attrs: RawAttrs }> = [];
  for (let i = 0; i < count; i++) {
    const nameLen = reply.body.readUInt32BE(p);
    const name = reply.body.subarray(p + 4, p + 4 + nameLen).toString('utf8');
    p += 4 + nameLen;
    const longLen = reply.body.readUInt32BE(p);
    const longname = reply.body.subarray(p + 4, p + 4 + longLen).toString('utf8');
    p += 4 + longLen;
    const { attrs, end } = readAttrs(reply.body, p);
    p = end;
    out.push({ name, longname, attrs });
  }
  if (p !== reply.body.length) throw new Error('NAME length mismatch');
  return out;
}

export function versionOf(reply: RawReply): { version: number; extensions: Map<string, string> } {
  assertType(reply, T.VERSION);
  const version = reply.body.readUInt32BE(0);
  const extensions = new Map<string, string>();
  let p = 4;
  while (p < reply.body.length) {
    const nameLen = reply.body.readUInt32BE(p);
    const name = reply.body.subarray(p + 4, p + 4 + nameLen).toString();
    p += 4 + nameLen;
    const dataLen = reply.body.readUInt32BE(p);
    extensions.set(name, reply.body.subarray(p + 4, p + 4 + dataLen).toString());
    p += 4 + dataLen;
  }
  return { version, extensions };
}

export function u64sOf(reply: RawReply): bigint[] {
  assertType(reply, T.EXTENDED_REPLY);
  const out: bigint[] = [];
  for (let p = 0; p < reply.body.length; p += 8) out.push(reply.body.readBigUInt64BE(p));
  return out;
}

function assertType(reply: RawReply, type: number): void {
  if (reply.type !== type) {
    const detail = reply.type === T.STATUS ? ` ${JSON.stringify(statusOf(reply))}` : '';
    throw new Error(`expected packet type ${type}, got ${reply.type}${detail}`);
  }
}

// ---- the client -------------------------------------------------------------------------

export class RawClient {
  readonly replies: RawReply[] = [];
  private buffered = Buffer.alloc(0);
  private waiters: Array<{ test: (r: RawReply) => boolean; resolve: (r: RawReply) => void }> = [];
  readonly ended: Promise<void>;
  private nextId = 1;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.ended = new Promise((resolve) => {
      socket.once('close', () => resolve());
    });
    socket.on('error', () => {});
  }

  id(): number {
    return this.nextId++;
  }

  private onData(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 4) {
      const length = this.buffered.readUInt32BE(0);
      if (this.buffered.length < 4 + length) break;
      const payload = this.buffered.subarray(4, 4 + length);
      this.buffered = this.buffered.subarray(4 + length);
      const type = payload[0]!;
      const reply: RawReply =
        type === T.VERSION
          ? { type, id: undefined, body: payload.subarray(1) }
          : { type, id: payload.readUInt32BE(1), body: payload.subarray(5) };
      this.replies.push(reply);
      for (const waiter of [...this.waiters]) {
        if (waiter.test(reply)) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve(reply);
        }
      }
    }
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Resolves with the first reply (already received or future) matching `test`. */
  waitFor(test: (r: RawReply) => boolean): Promise<RawReply> {
    const seen = this.replies.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }

  reply(id: number): Promise<RawReply> {
    return this.waitFor((r) => r.id === id);
  }

  /** Sends a request and waits for its reply. */
  async call(type: number, ...body: Buffer[]): Promise<RawReply> {
    const id = this.id();
    this.write(request(type, id, ...body));
    return this.reply(id);
  }

  async extended(name: string, ...body: Buffer[]): Promise<RawReply> {
    return this.call(T.EXTENDED, str(name), ...body);
  }

  async init(): Promise<RawReply> {
    this.write(packet(T.INIT, u32(3)));
    return this.waitFor((r) => r.type === T.VERSION);
  }

  async open(path: string, flags: number): Promise<Buffer> {
    return handleOf(await this.call(T.OPEN, str(path), u32(flags), noAttrs));
  }

  /** Count of replies per request id. */
  replyCounts(): Map<number, number> {
    const counts = new Map<number, number>();
    for (const r of this.replies) if (r.id !== undefined) counts.set(r.id, (counts.get(r.id) ?? 0) + 1);
    return counts;
  }
}

export interface Harness {
  readonly client: RawClient;
  readonly session: SftpProtocolSession;
  readonly serverSocket: net.Socket;
  readonly logged: Array<{ level: 'warn' | 'error'; details: object; message: string }>;
}

/** A session on one end of a TCP socket pair, a RawClient on the other. */
export async function connect(files: FileSession, options: SftpSessionOptions = {}): Promise<Harness> {
  const listener = net.createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const address = listener.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
  const clientSocket = net.connect(address.port, '127.0.0.1');
  await once(clientSocket, 'connect');
  const [serverSocket] = await accepted;
  listener.close();
  const logged: Harness['logged'] = [];
  const logger: SftpLogger = {
    warn: (details, message) => logged.push({ level: 'warn', details, message }),
    error: (details, message) => logged.push({ level: 'error', details, message }),
  };
  const session = new SftpProtocolSession(serverSocket, files, { logger, ...options });
  return { client: new RawClient(clientSocket), session, serverSocket, logged };
}
