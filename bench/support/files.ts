/** Files the benchmarks transfer: random content written with its sha256, a file's sha256, a check of its size. */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';

const MiB = 1024 * 1024;

/** Writes `bytes` random bytes to `file`; resolves with their sha256 (hex). */
export async function writeRandomFile(file: string, bytes: number): Promise<string> {
  const out = createWriteStream(file);
  const hash = createHash('sha256');
  const chunk = 4 * MiB;
  for (let written = 0; written < bytes; written += chunk) {
    const data = randomBytes(Math.min(chunk, bytes - written));
    hash.update(data);
    if (!out.write(data)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');
  return hash.digest('hex');
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: MiB })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Throws unless `file` exists with `bytes` bytes. */
export async function expectSize(file: string, bytes: number): Promise<void> {
  const s = await stat(file).catch(() => undefined);
  if (s?.size !== bytes) throw new Error(`${file}: expected ${bytes} bytes, found ${s?.size ?? 'no file'}`);
}
