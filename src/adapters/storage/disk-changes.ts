/**
 * Deletes, renames, folders and times on local disk, each in three steps an intent drives
 * (src/application/files/file-intents.ts): apply (undoable, durable), finish (after the event),
 * undo (whatever part was applied). What an undo needs is kept in `MFT_DATA_DIR/intents` as
 * `<intentId>.data`, on the same file system as the files and outside every user's view:
 * a deleted file is moved there, a file a rename replaces is linked there first.
 */
import type { Stats } from 'node:fs';
import { constants as fsConstants } from 'node:fs';
import { link, lstat, mkdir, open, rename, rmdir, unlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import { FileError } from '../../application/files/file-session.js';
import type { ChangeFacts, FileChange } from '../../domain/files/file-changes.js';
import { NO_FACTS } from '../../domain/files/file-changes.js';
import { syncDirectory } from './sync-directory.js';

/** Maps a virtual path under a home to its disk path, refusing ones that leave it. */
export type Locate = (home: string, virtualPath: string) => Promise<string>;
export type ToFileError = (error: unknown, virtualPath: string) => FileError;

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

const present = (full: string): Promise<Stats | undefined> => lstat(full).catch(() => undefined);
const sameFile = (a: Stats | undefined, b: Stats | undefined): boolean =>
  a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;
const removeIfThere = (full: string): Promise<void> =>
  unlink(full).catch((error: unknown) => {
    if (errnoOf(error) !== 'ENOENT') throw error;
  });

export class DiskChanges {
  constructor(
    private readonly intentsRoot: string,
    private readonly locate: Locate,
    private readonly toFileError: ToFileError,
  ) {}

  /** Where a change keeps what its undo needs. */
  kept(intentId: string): string {
    return path.join(this.intentsRoot, `${intentId}.data`);
  }

  async apply(home: string, change: FileChange, intentId: string): Promise<ChangeFacts> {
    const at = change.kind === 'rename' ? change.from : change.path;
    try {
      switch (change.kind) {
        case 'delete':
          return await this.stageRemoval(home, change.path, intentId);
        case 'rename':
          return await this.rename(home, change.from, change.to, change.overwrite, intentId);
        case 'mkdir': {
          const full = await this.locate(home, change.path);
          await mkdir(full, { mode: 0o750 });
          await syncDirectory(path.dirname(full));
          return NO_FACTS;
        }
        case 'rmdir': {
          if (change.path === '/')
            throw new FileError('permission-denied', '/: your home folder cannot be removed');
          const full = await this.locate(home, change.path);
          if (!(await lstat(full)).isDirectory())
            throw new FileError('not-a-directory', `${change.path}: not a directory`);
          await rmdir(full);
          await syncDirectory(path.dirname(full));
          return NO_FACTS;
        }
        case 'setstat':
          await this.setTimes(await this.locate(home, change.path), change.atime, change.mtime);
          return NO_FACTS;
      }
    } catch (error) {
      throw this.toFileError(error, errnoOf(error) === 'EEXIST' && change.kind === 'rename' ? change.to : at);
    }
  }

  async finish(home: string, change: FileChange, intentId: string): Promise<void> {
    if (change.kind === 'delete') await removeIfThere(this.kept(intentId));
    if (change.kind === 'rename') {
      // A rename cut between linking the new name and unlinking the old: drop the old.
      const from = await this.locate(home, change.from);
      if (sameFile(await present(from), await present(await this.locate(home, change.to))))
        await unlink(from);
      await removeIfThere(this.kept(intentId));
    }
  }

  async undo(home: string, change: FileChange, intentId: string): Promise<string | undefined> {
    switch (change.kind) {
      case 'delete':
        return this.restoreRemoval(home, change.path, intentId);
      case 'rename':
        return this.undoRename(home, change.from, change.to, intentId);
      case 'mkdir': {
        const full = await this.locate(home, change.path);
        if (!(await present(full))?.isDirectory()) return undefined;
        try {
          await rmdir(full);
          return undefined;
        } catch (error) {
          if (errnoOf(error) === 'ENOTEMPTY') return `${change.path} holds files now: left in place`;
          throw error;
        }
      }
      case 'rmdir': {
        const full = await this.locate(home, change.path);
        if (await present(full)) return undefined;
        await mkdir(full, { mode: 0o750 }).catch((error: unknown) => {
          if (errnoOf(error) !== 'EEXIST') throw error;
        });
        return undefined;
      }
      case 'setstat': {
        const full = await this.locate(home, change.path);
        if (!(await present(full))) return `${change.path} is gone`;
        await this.setTimes(full, change.previousAtime, change.previousMtime);
        return undefined;
      }
    }
  }

  /** Moves the file out of sight into the intents folder (atomic: this very file, or none). */
  private async stageRemoval(home: string, virtualPath: string, intentId: string): Promise<ChangeFacts> {
    const full = await this.locate(home, virtualPath);
    if ((await lstat(full)).isDirectory())
      throw new FileError('is-a-directory', `${virtualPath}: is a directory`);
    const kept = this.kept(intentId);
    await rename(full, kept);
    await syncDirectory(path.dirname(full));
    await syncDirectory(this.intentsRoot);
    const info = await lstat(kept);
    if (info.isDirectory()) {
      // A folder took the name between the check and the move: put it back.
      await rename(kept, full);
      throw new FileError('is-a-directory', `${virtualPath}: is a directory`);
    }
    return { size: info.isFile() ? info.size : null, overwrote: false };
  }

  private async restoreRemoval(
    home: string,
    virtualPath: string,
    intentId: string,
  ): Promise<string | undefined> {
    const kept = this.kept(intentId);
    if (!(await present(kept))) return undefined;
    const full = await this.locate(home, virtualPath);
    try {
      // Never over a file that took the name meanwhile.
      await link(kept, full);
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') throw error;
      await rename(kept, `${kept.slice(0, -'.data'.length)}.kept`);
      return `${virtualPath} was taken by another file: the old one is kept as intents/${intentId}.kept`;
    }
    await syncDirectory(path.dirname(full));
    await unlink(kept);
    return undefined;
  }

  private async rename(
    home: string,
    from: string,
    to: string,
    overwrite: boolean,
    intentId: string,
  ): Promise<ChangeFacts> {
    const source = await this.locate(home, from);
    const target = await this.locate(home, to);
    const sourceInfo = await lstat(source);
    const existing = await present(target);
    if (existing && !overwrite) throw new FileError('already-exists', `${to}: already exists`);
    if (existing?.isDirectory()) throw new FileError('already-exists', `${to}: a folder is never replaced`);
    if (existing) {
      // Keep the file about to be replaced, for an undo.
      await link(target, this.kept(intentId));
      await syncDirectory(this.intentsRoot);
      try {
        await rename(source, target);
      } catch (error) {
        await unlink(this.kept(intentId)).catch(() => undefined);
        throw error;
      }
    } else if (sourceInfo.isDirectory()) {
      await rename(source, target);
    } else {
      // No replace, atomically: link the new name (fails if it appeared meanwhile), drop the old.
      await link(source, target);
      await unlink(source);
    }
    await syncDirectory(path.dirname(target));
    if (path.dirname(source) !== path.dirname(target)) await syncDirectory(path.dirname(source));
    return { size: null, overwrote: existing !== undefined };
  }

  private async undoRename(home: string, from: string, to: string, intentId: string): Promise<undefined> {
    const source = await this.locate(home, from);
    const target = await this.locate(home, to);
    const kept = this.kept(intentId);
    const sourceInfo = await present(source);
    let targetInfo = await present(target);
    if (!sourceInfo && targetInfo) {
      await rename(target, source);
      targetInfo = undefined;
    } else if (sameFile(sourceInfo, targetInfo)) {
      // Cut between linking the new name and unlinking the old.
      await unlink(target);
      targetInfo = undefined;
    }
    if (await present(kept)) {
      if (targetInfo) await unlink(kept);
      else await rename(kept, target);
    }
    await syncDirectory(path.dirname(target));
    if (path.dirname(source) !== path.dirname(target)) await syncDirectory(path.dirname(source));
    return undefined;
  }

  /** Sets a file's times and makes them durable (the file's own metadata is synced). */
  private async setTimes(full: string, atime: number, mtime: number): Promise<void> {
    await utimes(full, atime, mtime);
    const handle = await open(full, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
