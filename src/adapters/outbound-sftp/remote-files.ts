/**
 * The SFTP requests a transfer makes, as promises whose failures are `remote-error`s naming the
 * path, plus the two pipelined bulk operations: hashing a remote range by reading it back
 * (OpenSSH offers no check-file extension) and writing a local range into a remote handle.
 */
import type { Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type ssh2 from 'ssh2';
import { chunks, pipelined } from './pipeline.js';
import { OutboundTransferError } from './transfer-error.js';

/** OpenSSH's largest read and write (its limits@openssh.com answer); ssh2 splits for smaller servers. */
const CHUNK = 261_120;
const IN_FLIGHT = 16;
const NO_SUCH_FILE = 2;

type Callback<T> = (error: (Error & { code?: unknown }) | null | undefined, value: T) => void;

/** Thrown by a local read that comes back short: the source is not the file that was recorded. */
export class SourceShrank extends Error {}

export class RemoteFiles {
  /** Set once the channel is gone: a request then would never be answered, so it fails at once. */
  private closed = false;

  constructor(private readonly sftp: ssh2.SFTPWrapper) {
    sftp.on('close', () => this.markClosed());
    // ssh2 emits 'error' on a malformed reply: unheard, it would be thrown; its requests fail anyway.
    sftp.on('error', () => this.markClosed());
  }

  markClosed(): void {
    this.closed = true;
  }

  private call<T>(what: string, request: (done: Callback<T>) => void): Promise<T> {
    if (this.closed)
      return Promise.reject(new OutboundTransferError('unreachable', `${what}: connection closed`));
    return new Promise((resolve, reject) =>
      request((error, value) => {
        if (!error) return resolve(value);
        reject(new OutboundTransferError('remote-error', `${what}: ${error.message}`, { cause: error }));
      }),
    );
  }

  /** The path's attributes, or undefined when it does not exist. */
  async stat(path: string): Promise<ssh2.Stats | undefined> {
    try {
      return await this.call<ssh2.Stats>(`stat ${path}`, (done) => this.sftp.stat(path, done));
    } catch (error) {
      const cause = error instanceof OutboundTransferError ? (error.cause as { code?: unknown }) : undefined;
      if (cause?.code === NO_SUCH_FILE) return undefined;
      throw error;
    }
  }

  open(path: string, flags: 'r' | 'r+' | 'w'): Promise<Buffer> {
    return this.call(`open ${path}`, (done) => this.sftp.open(path, flags, done));
  }

  close(handle: Buffer): Promise<void> {
    return this.call('close', (done) => this.sftp.close(handle, (error) => done(error, undefined)));
  }

  unlink(path: string): Promise<void> {
    return this.call(`remove ${path}`, (done) => this.sftp.unlink(path, (error) => done(error, undefined)));
  }

  /** posix-rename@openssh.com (replaces the target atomically) when offered; else remove, then RENAME. */
  async rename(from: string, to: string, targetExists: boolean): Promise<void> {
    try {
      return await this.call(`rename ${from} to ${to}`, (done) =>
        this.sftp.ext_openssh_rename(from, to, (error) => done(error, undefined)),
      );
    } catch (error) {
      // ssh2 throws at once, before any request, when the server did not offer the extension.
      if (error instanceof OutboundTransferError) throw error;
    }
    // Plain RENAME never overwrites (SFTP v3), so the old file goes first: not atomic, the best v3 allows.
    if (targetExists) await this.unlink(to);
    await this.call(`rename ${from} to ${to}`, (done) =>
      this.sftp.rename(from, to, (error) => done(error, undefined)),
    );
  }

  private async readFully(handle: Buffer, position: number, length: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const got = await this.call<number>('read', (done) =>
        this.sftp.read(handle, buffer, filled, length - filled, position + filled, done),
      );
      if (got === 0) break;
      filled += got;
    }
    return buffer.subarray(0, filled);
  }

  /** Feeds bytes [0, length) of the open remote file to `hash`; false when the file is shorter. */
  async hashRange(handle: Buffer, length: number, hash: Hash): Promise<boolean> {
    const range = chunks(0, length, CHUNK);
    let complete = true;
    await pipelined(
      range.count,
      IN_FLIGHT,
      (step) => this.readFully(handle, range.at(step).position, range.at(step).length),
      (data, step) => {
        if (data.length < range.at(step).length) complete = false;
        if (complete) hash.update(data);
      },
    );
    return complete;
  }

  /** Reads local bytes [from, to), feeds them to `hash` in order and writes them at the same offsets. */
  async writeRange(handle: Buffer, local: FileHandle, from: number, to: number, hash: Hash): Promise<void> {
    const range = chunks(from, to, CHUNK);
    await pipelined(
      range.count,
      IN_FLIGHT,
      async (step) => {
        const { position, length } = range.at(step);
        const data = await readLocal(local, position, length);
        await this.call('write', (done) =>
          this.sftp.write(handle, data, 0, length, position, (error) => done(error, undefined)),
        );
        return data;
      },
      (data) => hash.update(data),
    );
  }
}

/** Exactly `length` local bytes at `position`, or SourceShrank. */
export async function readLocal(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await file.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) throw new SourceShrank(`the source ended before byte ${position + length}`);
    filled += bytesRead;
  }
  return buffer;
}

/** Feeds local bytes [0, length) to `hash`. */
export async function hashLocal(file: FileHandle, length: number, hash: Hash): Promise<void> {
  const range = chunks(0, length, CHUNK);
  await pipelined(
    range.count,
    4,
    (step) => readLocal(file, range.at(step).position, range.at(step).length),
    (data) => hash.update(data),
  );
}
