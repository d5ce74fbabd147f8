/**
 * Sends one local file to a remote SFTP directory, safe to repeat: a file already there with
 * the same size and SHA-256 is left alone ('already-there'); otherwise the bytes go to a hidden
 * `.NAME.sluice-part` beside it, resumed when what is there is a true prefix of the source
 * (checked by hashing both sides), read back and hashed once complete (OpenSSH has no
 * check-file extension), and only then renamed into place, so the peer never sees a partial or
 * corrupt file under the final name. The source is hashed as it is read and must match the
 * recorded sha256, so what was delivered is what was recorded. Retries, back-off and recording
 * are the caller's: this only reports what happened, or throws an OutboundTransferError whose
 * `retryable` says whether trying again may help. On `signal` abort it throws the signal's
 * reason; local I/O failures other than a missing or shorter source are thrown as they are.
 */
import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { openSftp } from './connect.js';
import { hashLocal, RemoteFiles, SourceShrank } from './remote-files.js';
import { checkTransfer, type OutboundSftpTarget, type SourceFile } from './target.js';
import { OutboundTransferError } from './transfer-error.js';

export interface SendResult {
  readonly outcome: 'sent' | 'already-there';
  /** Bytes written in this call (the source's size less what was resumed). */
  readonly bytesSent: number;
  /** Bytes of an earlier part file kept because they were the source's prefix. */
  readonly resumedFrom: number;
  readonly sha256: string;
}

export interface SendOptions {
  readonly signal?: AbortSignal;
  /** The whole call, connection included (default 15 minutes). */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 15 * 60_000;
const HANDSHAKE_TIMEOUT_MS = 30_000;

interface Paths {
  readonly directory: string;
  readonly finalPath: string;
  readonly partPath: string;
}

function sourceChanged(detail: string, cause?: unknown): OutboundTransferError {
  return new OutboundTransferError('source-changed', `the source is not the recorded file: ${detail}`, {
    cause,
  });
}

async function remoteSha256(remote: RemoteFiles, path: string, size: number): Promise<string | undefined> {
  const handle = await remote.open(path, 'r');
  try {
    const hash = createHash('sha256');
    return (await remote.hashRange(handle, size, hash)) ? hash.digest('hex') : undefined;
  } finally {
    await remote.close(handle).catch(() => undefined);
  }
}

/**
 * Opens the part file for writing at its resumable length: kept when its bytes are the source's
 * prefix, else truncated. `hash` holds the local source's hash of the bytes before that length.
 */
async function openPart(remote: RemoteFiles, local: FileHandle, size: number, partPath: string) {
  const part = await remote.stat(partPath);
  if (part?.isFile() && part.size > 0 && part.size <= size) {
    const handle = await remote.open(partPath, 'r+');
    const theirs = createHash('sha256');
    const ours = createHash('sha256');
    const [read, hashed] = await Promise.allSettled([
      remote.hashRange(handle, part.size, theirs),
      hashLocal(local, part.size, ours),
    ]);
    const same =
      read.status === 'fulfilled' &&
      hashed.status === 'fulfilled' &&
      read.value &&
      theirs.digest('hex') === ours.copy().digest('hex');
    if (same) return { handle, resumedFrom: part.size, hash: ours };
    await remote.close(handle).catch(() => undefined);
    if (hashed.status === 'rejected') throw hashed.reason;
    if (read.status === 'rejected') throw read.reason;
  }
  return { handle: await remote.open(partPath, 'w'), resumedFrom: 0, hash: createHash('sha256') };
}

/** Writes the part file from where it can resume; returns where that was. */
async function upload(remote: RemoteFiles, source: SourceFile, partPath: string): Promise<number> {
  let local: FileHandle;
  try {
    local = await open(source.path, 'r');
  } catch (error) {
    throw sourceChanged(`cannot open ${source.path}`, error);
  }
  try {
    const { size } = await local.stat();
    if (size !== source.size) throw sourceChanged(`${size} bytes, recorded ${source.size}`);
    const part = await openPart(remote, local, source.size, partPath);
    try {
      await remote.writeRange(part.handle, local, part.resumedFrom, source.size, part.hash);
    } catch (error) {
      await remote.close(part.handle).catch(() => undefined);
      throw error;
    }
    await remote.close(part.handle);
    const sha256 = part.hash.digest('hex');
    if (sha256 !== source.sha256) {
      await remote.unlink(partPath).catch(() => undefined);
      throw sourceChanged(`sha256 ${sha256}, recorded ${source.sha256}`);
    }
    return part.resumedFrom;
  } catch (error) {
    throw error instanceof SourceShrank ? sourceChanged(error.message, error) : error;
  } finally {
    await local.close();
  }
}

async function transfer(remote: RemoteFiles, source: SourceFile, paths: Paths): Promise<SendResult> {
  const directory = await remote.stat(paths.directory);
  if (!directory?.isDirectory()) {
    throw new OutboundTransferError('remote-error', `remote directory ${paths.directory} does not exist`);
  }
  const existing = await remote.stat(paths.finalPath);
  if (existing && !existing.isFile()) {
    throw new OutboundTransferError('remote-error', `${paths.finalPath} exists and is not a file`);
  }
  if (
    existing?.isFile() &&
    existing.size === source.size &&
    (await remoteSha256(remote, paths.finalPath, source.size)) === source.sha256
  ) {
    return { outcome: 'already-there', bytesSent: 0, resumedFrom: 0, sha256: source.sha256 };
  }
  const resumedFrom = await upload(remote, source, paths.partPath);
  const written = await remote.stat(paths.partPath);
  const sha256 =
    written?.size === source.size ? await remoteSha256(remote, paths.partPath, source.size) : undefined;
  if (sha256 !== source.sha256) {
    await remote.unlink(paths.partPath).catch(() => undefined);
    throw new OutboundTransferError(
      'verify-failed',
      `${paths.partPath} read back as ${written?.size ?? 'no'} bytes with sha256 ${sha256 ?? '-'}, expected ${source.size} bytes with ${source.sha256}`,
    );
  }
  await remote.rename(paths.partPath, paths.finalPath, existing !== undefined);
  return { outcome: 'sent', bytesSent: source.size - resumedFrom, resumedFrom, sha256: source.sha256 };
}

export async function sendFile(
  target: OutboundSftpTarget,
  source: SourceFile,
  remoteName: string,
  options: SendOptions = {},
): Promise<SendResult> {
  const paths = { directory: target.directory, ...checkTransfer(target, source, remoteName) };
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    throw new OutboundTransferError(
      'invalid-target',
      `timeoutMs ${timeoutMs} is not a positive whole number`,
    );
  }
  const stop = new AbortController();
  const timer = setTimeout(
    () => stop.abort(new OutboundTransferError('timeout', `the transfer took longer than ${timeoutMs} ms`)),
    timeoutMs,
  );
  const { signal } = options;
  const onAbort = () => stop.abort(signal?.reason);
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  let session: Awaited<ReturnType<typeof openSftp>> | undefined;
  try {
    session = await openSftp(target, stop.signal, Math.min(timeoutMs, HANDSHAKE_TIMEOUT_MS));
    stop.signal.throwIfAborted();
    const remote = new RemoteFiles(session.sftp);
    // Closing the connection fails every request in flight, which ends the transfer at once.
    const close = session.close;
    stop.signal.addEventListener('abort', () => {
      remote.markClosed();
      close();
    });
    return await transfer(remote, source, paths);
  } catch (error) {
    throw stop.signal.aborted ? stop.signal.reason : error;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    session?.close();
  }
}
