/**
 * Notes of file changes begun, one JSON file per intent in `MFT_DATA_DIR/intents`
 * (`<intentId>.json`), beside what a change keeps for an undo (`<intentId>.data`). A note is
 * written to a temporary name, synced and renamed, so a note that exists is whole.
 */
import { constants as fsConstants } from 'node:fs';
import { open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { IntentJournal, IntentNote } from '../../application/files/file-intents.js';
import { syncDirectory } from './sync-directory.js';

export class DiskIntentJournal implements IntentJournal {
  constructor(private readonly root: string) {}

  async write(note: IntentNote): Promise<void> {
    const final = path.join(this.root, `${note.intentId}.json`);
    const temporary = `${final}.tmp`;
    const handle = await open(
      temporary,
      fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL,
      0o600,
    );
    try {
      await handle.writeFile(JSON.stringify(note));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, final);
    await syncDirectory(this.root);
  }

  async remove(intentId: string): Promise<void> {
    await unlink(path.join(this.root, `${intentId}.json`)).catch(() => undefined);
  }

  async pending(): Promise<Array<{ intentId: string; note: unknown }>> {
    const names = await readdir(this.root).catch(() => [] as string[]);
    const notes: Array<{ intentId: string; note: unknown }> = [];
    for (const name of names.sort()) {
      // A temporary note was never renamed: nothing was changed after it.
      if (name.endsWith('.json.tmp')) await unlink(path.join(this.root, name)).catch(() => undefined);
      if (!name.endsWith('.json')) continue;
      const intentId = name.slice(0, -'.json'.length);
      const text = await readFile(path.join(this.root, name), 'utf8');
      let note: unknown = null;
      try {
        note = JSON.parse(text);
      } catch {
        note = null;
      }
      notes.push({ intentId, note });
    }
    return notes;
  }
}
