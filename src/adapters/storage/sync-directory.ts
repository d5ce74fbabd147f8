import { constants as fsConstants } from 'node:fs';
import { open } from 'node:fs/promises';

/** Makes a directory's entries (a created, renamed or removed name) durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
