/**
 * Moving a file's bytes between the core's FileHandle and a data connection (stream mode: the
 * end of the file is the end of the connection). Reads are 256 KiB; the next read runs while
 * the socket sends the last one, and a full socket pauses reading. Received bytes are
 * gathered into writes of up to 256 KiB (TLS hands them over 16 KiB at a time).
 */
import type { Duplex } from 'node:stream';
import type { FileHandle } from '../../application/files/file-session.js';

const CHUNK = 256 * 1024;

function drained(socket: Duplex): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      socket.off('drain', onDrain);
      socket.off('close', onClose);
      socket.off('error', done);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error('the data connection closed during the transfer'));
    socket.once('drain', onDrain);
    socket.once('close', onClose);
    socket.once('error', done);
  });
}

/** Ends the data connection cleanly (TLS close_notify, then FIN) once everything is sent. */
export function finish(socket: Duplex): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.end(() => resolve());
  });
}

/** Sends the file from `offset` to its end; resolves with the bytes sent. */
export async function sendFile(handle: FileHandle, socket: Duplex, offset: number): Promise<number> {
  let at = offset;
  let next = handle.read(at, CHUNK);
  try {
    for (let data = await next; data; data = await next) {
      at += data.length;
      next = handle.read(at, CHUNK);
      if (socket.destroyed) throw new Error('the data connection closed during the transfer');
      if (!socket.write(data)) await drained(socket);
    }
  } catch (error) {
    // The read begun ahead is not waited for; its failure, if any, is not the one to report.
    next.catch(() => {});
    throw error;
  }
  await finish(socket);
  return at - offset;
}

/** Stores what arrives from `offset` until the client ends the connection; resolves with the bytes. */
export async function receiveFile(handle: FileHandle, socket: Duplex, offset: number): Promise<number> {
  let at = offset;
  let gathered: Buffer[] = [];
  let gatheredBytes = 0;
  const flush = async () => {
    if (gatheredBytes === 0) return;
    const data = gathered.length === 1 ? (gathered[0] as Buffer) : Buffer.concat(gathered, gatheredBytes);
    gathered = [];
    gatheredBytes = 0;
    await handle.write(at, data);
    at += data.length;
  };
  for await (const chunk of socket as AsyncIterable<Buffer>) {
    gathered.push(chunk);
    gatheredBytes += chunk.length;
    if (gatheredBytes >= CHUNK) await flush();
  }
  await flush();
  return at - offset;
}
