/**
 * The quarantine: where a file the upload scan rejected is kept, out of every user's reach
 * (MFT_DATA_DIR/quarantine), for an administrator to look at. A copy made durable before the
 * user's file is deleted; named by the scan's delivery, so a repeated attempt writes the same file.
 */
import { copyFile, mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { syncDirectory } from './sync-directory.js';

export function quarantineIn(dir: string) {
  return async (localPath: string, name: string): Promise<string> => {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const target = path.join(dir, path.basename(name));
    await copyFile(localPath, target);
    const handle = await open(target, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await syncDirectory(dir);
    return path.basename(target);
  };
}
