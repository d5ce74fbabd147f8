import { createHash } from 'node:crypto';
import type { Storage } from '../files/file-operations.js';
import { FileError } from '../files/file-session.js';

/**
 * The SHA-256 of what is at `path` in a home now, or undefined when nothing is there. Read
 * straight from storage, recording nothing: a flow's own check whether an earlier attempt
 * already did its work.
 */
export async function digestAt(
  storage: Pick<Storage, 'find' | 'openForRead'>,
  home: string,
  path: string,
): Promise<string | undefined> {
  const found = await storage.find(home, path, false).catch((error: unknown) => {
    // A missing folder on the way: nothing is there either.
    if (error instanceof FileError && error.code === 'not-found') return undefined;
    throw error;
  });
  if (!found || found.mode === undefined || (found.mode & 0o170000) !== 0o100000) return undefined;
  const { handle } = await storage.openForRead(home, path);
  try {
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(256 * 1024);
    for (let position = 0; ; ) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
    return hash.digest('hex');
  } finally {
    await handle.close();
  }
}
