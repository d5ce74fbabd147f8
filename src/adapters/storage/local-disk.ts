/**
 * Files on local disk, confined to each user's home under `MFT_DATA_DIR/files`. Every path
 * arrives here already resolved to a canonical virtual path; this layer maps it under the
 * home, refuses anything whose real location (symbolic links followed) leaves the home, and
 * stages uploads in `MFT_DATA_DIR/uploads` so a file appears under its name only when complete.
 * Deletes, renames, folders and times are made in undoable steps (disk-changes.ts).
 */
import { constants as fsConstants, lstatSync, realpathSync, type Stats, statSync } from 'node:fs';
import {
  copyFile,
  type FileHandle,
  link,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  realpath,
  rename,
  statfs,
  unlink,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { OpenedForRead, StagedOwner, Storage } from '../../application/files/file-operations.js';
import {
  type FileAttributes,
  FileError,
  type FileSystemStats,
} from '../../application/files/file-session.js';
import type { ChangeFacts, FileChange } from '../../domain/files/file-changes.js';
import { DiskChanges } from './disk-changes.js';
import { syncDirectory } from './sync-directory.js';

export interface StoredEntry {
  readonly name: string;
  readonly attrs: FileAttributes;
}

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** Turns a file-system error into the core's typed error (never leaking real paths). */
export function toFileError(error: unknown, virtualPath: string): FileError {
  if (error instanceof FileError) return error;
  switch (errnoOf(error)) {
    case 'ENOENT':
      return new FileError('not-found', `${virtualPath}: no such file or directory`);
    case 'EEXIST':
      return new FileError('already-exists', `${virtualPath}: already exists`);
    case 'ENOTDIR':
      return new FileError('not-a-directory', `${virtualPath}: not a directory`);
    case 'EISDIR':
      return new FileError('is-a-directory', `${virtualPath}: is a directory`);
    case 'ENOTEMPTY':
      return new FileError('not-empty', `${virtualPath}: directory not empty`);
    case 'ENOSPC':
    case 'EDQUOT':
      return new FileError('no-space', 'no space left on the server');
    case 'EACCES':
    case 'EPERM':
    case 'ELOOP':
      return new FileError('permission-denied', `${virtualPath}: permission denied`);
    case 'ENAMETOOLONG':
      return new FileError('invalid-path', `${virtualPath}: name too long`);
    default:
      return new FileError('failure', `${virtualPath}: the operation failed`);
  }
}

export function attributesOf(info: import('node:fs').Stats): FileAttributes {
  return {
    size: info.size,
    uid: info.uid,
    gid: info.gid,
    mode: info.mode,
    atime: Math.floor(info.atimeMs / 1000),
    mtime: Math.floor(info.mtimeMs / 1000),
  };
}

/** A staged upload: written at any offsets, then committed under its name or discarded. */
export interface StagedUpload {
  readonly stagingPath: string;
  write(offset: number, data: Buffer): Promise<void>;
  read(offset: number, length: number): Promise<Buffer>;
  size(): Promise<number>;
  /** Makes the data durable, and its staging note written: what recording the upload needs first. */
  sync(): Promise<void>;
  /** Closes the file (written and synced); commit and discard still work. */
  close(): Promise<void>;
  /** Moves the (already synced) data under its name. `overwrite: false` never replaces a file. */
  commit(options: { overwrite: boolean }): Promise<{ overwrote: boolean }>;
  discard(): Promise<void>;
}

/**
 * Directory syncs after an upload's name moved into place, shared and off the reply's path.
 * By then the upload is durable (its data synced, its event recorded), and until its folder
 * is synced its staging note stays: should the move be lost in a crash, the next start finds
 * the staged file with its note and finishes the move (`recoverUploads`). The sync starts
 * SYNC_DELAY_MS after the first move that asks for it and covers every name moved in that
 * folder before it began, so a burst of uploads into one folder shares one (meanwhile the
 * next upload's own data sync usually commits the file system's journal, moves included).
 */
const SYNC_DELAY_MS = 100;

class DirectorySyncs {
  private readonly folders = new Map<string, Array<() => Promise<void>>>();
  private readonly running = new Set<Promise<void>>();

  /** Syncs `dir` soon, then runs `then` (which must not throw). */
  schedule(dir: string, then: () => Promise<void>): void {
    const waiting = this.folders.get(dir);
    if (waiting) {
      waiting.push(then);
      return;
    }
    const queue = [then];
    this.folders.set(dir, queue);
    const run = (async () => {
      await delay(SYNC_DELAY_MS);
      while (queue.length > 0) {
        const covered = queue.splice(0);
        // A failed sync leaves the notes: the next start finds nothing left to do but drop them.
        const synced = await syncDirectory(dir).then(
          () => true,
          () => false,
        );
        if (synced) await Promise.all(covered.map((f) => f()));
      }
      this.folders.delete(dir);
    })();
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  /** Resolves once every scheduled sync has run. */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running);
  }
}

export class LocalDisk implements Storage {
  private readonly changes: DiskChanges;
  private readonly directorySyncs = new DirectorySyncs();

  constructor(
    /** `MFT_DATA_DIR/files`: every home folder lives below it. */
    private readonly filesRoot: string,
    /** `MFT_DATA_DIR/uploads`: staged uploads, outside every user's view, same file system. */
    private readonly stagingRoot: string,
    /** `MFT_DATA_DIR/intents`: notes of changes begun and what their undo needs (same file system). */
    private readonly intentsRoot: string,
  ) {
    this.changes = new DiskChanges(
      intentsRoot,
      (home, virtualPath) => this.locate(home, virtualPath),
      toFileError,
    );
  }

  async prepare(): Promise<void> {
    await mkdir(this.filesRoot, { recursive: true, mode: 0o750 });
    await mkdir(this.stagingRoot, { recursive: true, mode: 0o700 });
    await mkdir(this.intentsRoot, { recursive: true, mode: 0o700 });
  }

  /** Waits for the folder syncs of uploads already answered (on stop). */
  flush(): Promise<void> {
    return this.directorySyncs.drain();
  }

  /** The user's home directory on disk, created on first use. */
  async home(homeFolder: string): Promise<string> {
    const root = path.resolve(this.filesRoot);
    const dir = path.join(root, homeFolder);
    // The core already refuses unsafe home folders; storage confines them too.
    if (dir !== root && !dir.startsWith(`${root}${path.sep}`))
      throw new FileError('permission-denied', 'the home folder leads outside the files root');
    await mkdir(dir, { recursive: true, mode: 0o750 });
    return realpath(dir);
  }

  /**
   * The disk path of `virtualPath` under `home`, after checking that its real location —
   * following any symbolic link on the way — stays inside the home. A missing final
   * component is fine (it is about to be created); a missing parent is not-found.
   */
  async locate(home: string, virtualPath: string): Promise<string> {
    return this.locateEntry(home, virtualPath).full;
  }

  /**
   * `locate`, with what `lstat` said of the final component (undefined: it does not exist, or
   * it is the home, which is not looked at).
   *
   * Synchronous on purpose: these lookups only read metadata the kernel has cached (a few
   * microseconds each), while each call through libuv's thread pool costs a hand-off to a pool
   * thread and back, about 80 µs of latency on a 2-core VM (bench/README.md, "bench/sftp").
   * Calls that may wait for the disk (create, rename, unlink, sync, read, write) stay
   * asynchronous.
   */
  private locateEntry(
    home: string,
    virtualPath: string,
  ): { full: string; info: Stats | undefined; error?: unknown } {
    const target = path.join(home, virtualPath);
    if (virtualPath === '/') return { full: home, info: undefined };
    let parent: string;
    try {
      parent = realpathSync.native(path.dirname(target));
    } catch (error) {
      throw toFileError(error, virtualPath);
    }
    this.assertInside(home, parent, virtualPath);
    const full = path.join(parent, path.basename(target));
    let info: Stats | undefined;
    try {
      info = lstatSync(full, { throwIfNoEntry: false });
    } catch (error) {
      return { full, info: undefined, error };
    }
    if (info?.isSymbolicLink()) {
      let real: string;
      try {
        real = realpathSync.native(full);
      } catch {
        throw new FileError('permission-denied', `${virtualPath}: a link that leads nowhere`);
      }
      this.assertInside(home, real, virtualPath);
    }
    return { full, info };
  }

  private assertInside(home: string, real: string, virtualPath: string): void {
    if (real !== home && !real.startsWith(`${home}${path.sep}`)) {
      throw new FileError('permission-denied', `${virtualPath}: leads outside your folder`);
    }
  }

  async stat(home: string, virtualPath: string, followLinks: boolean): Promise<FileAttributes> {
    const found = await this.find(home, virtualPath, followLinks);
    if (!found) throw new FileError('not-found', `${virtualPath}: no such file or directory`);
    return found;
  }

  async find(home: string, virtualPath: string, followLinks: boolean): Promise<FileAttributes | undefined> {
    const { full, info, error } = this.locateEntry(home, virtualPath);
    if (error) throw toFileError(error, virtualPath);
    // What locating found is the answer, unless a link is to be followed (or it is the home).
    if (info && !(followLinks && info.isSymbolicLink())) return attributesOf(info);
    if (!info && virtualPath !== '/') return undefined;
    try {
      const found = followLinks ? statSync(full, { throwIfNoEntry: false }) : lstatSync(full);
      return found && attributesOf(found);
    } catch (error) {
      throw toFileError(error, virtualPath);
    }
  }

  async list(home: string, virtualPath: string): Promise<StoredEntry[]> {
    const full = await this.locate(home, virtualPath);
    let names: string[];
    try {
      names = await readdir(full);
    } catch (error) {
      throw toFileError(error, virtualPath);
    }
    const entries: StoredEntry[] = [];
    for (const name of names) {
      const info = await lstat(path.join(full, name)).catch(() => undefined);
      if (info) entries.push({ name, attrs: attributesOf(info) });
    }
    return entries;
  }

  /** Opens an existing regular file for reading (never through a link leading out). */
  async openForRead(home: string, virtualPath: string): Promise<OpenedForRead> {
    const full = await this.locate(home, virtualPath);
    try {
      const handle = await open(full, fsConstants.O_RDONLY);
      const info = await handle.stat();
      if (info.isDirectory()) {
        await handle.close();
        throw new FileError('is-a-directory', `${virtualPath}: is a directory`);
      }
      return { handle, size: info.size, modifiedMs: info.mtimeMs, changedMs: info.ctimeMs };
    } catch (error) {
      throw toFileError(error, virtualPath);
    }
  }

  /** Stages an upload; with `fromExisting`, it starts as a copy of the current file (resume). */
  async stage(
    home: string,
    virtualPath: string,
    uploadId: string,
    fromExisting: boolean,
    owner: StagedOwner,
  ): Promise<StagedUpload> {
    if (virtualPath === '/') throw new FileError('is-a-directory', '/: is a directory');
    const { full: target, info: existing } = this.locateEntry(home, virtualPath);
    let parentInfo: Stats;
    try {
      parentInfo = statSync(path.dirname(target));
    } catch (error) {
      throw toFileError(error, virtualPath);
    }
    if (!parentInfo.isDirectory())
      throw new FileError('not-a-directory', `${path.posix.dirname(virtualPath)}: not a directory`);
    if (existing?.isDirectory()) throw new FileError('is-a-directory', `${virtualPath}: is a directory`);
    const stagingPath = path.join(this.stagingRoot, `${uploadId}.part`);
    const note = path.join(this.stagingRoot, `${uploadId}.json`);
    // Who staged it, for the recovery after a crash (not synced: a lost note only loses the
    // path). Written while the upload goes on: only its record waits for it (see sync()).
    const noted = writeFile(note, JSON.stringify(owner), { mode: 0o600 });
    noted.catch(() => undefined);
    const dropNote = async () => {
      await noted.catch(() => undefined);
      await unlink(note).catch(() => undefined);
    };
    let handle: FileHandle;
    try {
      if (fromExisting && existing?.isFile()) {
        await copyFile(target, stagingPath, fsConstants.COPYFILE_FICLONE | fsConstants.COPYFILE_EXCL);
      }
      handle = await open(stagingPath, fsConstants.O_RDWR | fsConstants.O_CREAT, 0o640);
    } catch (error) {
      await unlink(stagingPath).catch(() => undefined);
      await dropNote();
      throw error;
    }
    return stagedUpload(handle, stagingPath, target, virtualPath, {
      noted,
      dropNote,
      afterSync: (dir, then) => this.directorySyncs.schedule(dir, then),
    });
  }

  applyChange(home: string, change: FileChange, intentId: string): Promise<ChangeFacts> {
    return this.changes.apply(home, change, intentId);
  }

  finishChange(home: string, change: FileChange, intentId: string): Promise<void> {
    return this.changes.finish(home, change, intentId);
  }

  undoChange(home: string, change: FileChange, intentId: string): Promise<string | undefined> {
    return this.changes.undo(home, change, intentId);
  }

  /** A link's target as a virtual path, only when it stays inside the home. */
  async readlink(home: string, virtualPath: string): Promise<string> {
    const full = await this.locate(home, virtualPath);
    try {
      const info = await lstat(full);
      if (!info.isSymbolicLink()) throw new FileError('failure', `${virtualPath}: not a symbolic link`);
      const real = await realpath(full);
      const relative = path.relative(home, real);
      return `/${relative.split(path.sep).join('/')}`;
    } catch (error) {
      throw toFileError(error, virtualPath);
    }
  }

  async statfs(home: string): Promise<FileSystemStats> {
    const s = await statfs(home);
    return {
      blockSize: s.bsize,
      blocks: s.blocks,
      freeBlocks: s.bfree,
      availableBlocks: s.bavail,
      files: s.files,
      freeFiles: s.ffree,
      maxNameLength: 255,
    };
  }

  /** Staged uploads left by a crash, with the owner noted when each was staged. */
  async stagedUploads(): Promise<Array<{ uploadId: string; owner: StagedOwner | null }>> {
    const names = await readdir(this.stagingRoot).catch(() => [] as string[]);
    const uploads: Array<{ uploadId: string; owner: StagedOwner | null }> = [];
    // A note without its staged file: an upload moved into place before its folder's sync
    // dropped the note (or one staged no further than the note). Nothing left to do.
    for (const name of names.filter((n) => n.endsWith('.json'))) {
      if (!names.includes(`${name.slice(0, -'.json'.length)}.part`)) {
        await unlink(path.join(this.stagingRoot, name)).catch(() => undefined);
      }
    }
    for (const name of names.filter((n) => n.endsWith('.part'))) {
      const uploadId = name.slice(0, -'.part'.length);
      const note = await readFile(path.join(this.stagingRoot, `${uploadId}.json`), 'utf8').catch(() => null);
      let owner: StagedOwner | null = null;
      try {
        owner = note === null ? null : (JSON.parse(note) as StagedOwner);
      } catch {
        owner = null;
      }
      uploads.push({ uploadId, owner });
    }
    return uploads;
  }

  async finishStaged(uploadId: string, homeFolder: string, virtualPath: string): Promise<void> {
    const target = await this.locate(await this.home(homeFolder), virtualPath);
    await rename(path.join(this.stagingRoot, `${uploadId}.part`), target);
    await syncDirectory(path.dirname(target));
    await unlink(path.join(this.stagingRoot, `${uploadId}.json`)).catch(() => undefined);
  }

  async discardStaged(uploadId: string): Promise<void> {
    await unlink(path.join(this.stagingRoot, `${uploadId}.part`)).catch(() => undefined);
    await unlink(path.join(this.stagingRoot, `${uploadId}.json`)).catch(() => undefined);
  }
}

interface StagingNote {
  /** The note written (it must be before the upload is recorded). */
  noted: Promise<void>;
  /** Removes the staging note (never throws). */
  dropNote(): Promise<void>;
  /** Runs `then` once `dir` has been synced (see DirectorySyncs). */
  afterSync(dir: string, then: () => Promise<void>): void;
}

function stagedUpload(
  handle: FileHandle,
  stagingPath: string,
  target: string,
  virtualPath: string,
  { noted, dropNote, afterSync }: StagingNote,
): StagedUpload {
  let open = true;
  const closeHandle = async () => {
    if (!open) return;
    open = false;
    await handle.close();
  };
  return {
    stagingPath,
    async write(offset, data) {
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await handle.write(data, written, data.length - written, offset + written);
        written += bytesWritten;
      }
    },
    async read(offset, length) {
      const buffer = Buffer.allocUnsafe(length);
      const { bytesRead } = await handle.read(buffer, 0, length, offset);
      return buffer.subarray(0, bytesRead);
    },
    async size() {
      return (await handle.stat()).size;
    },
    async sync() {
      // Synced data with its note: what CLOSE needs before it records the upload.
      await Promise.all([handle.sync(), noted]);
    },
    close: closeHandle,
    async commit({ overwrite }) {
      try {
        // The caller has synced the data (before recording the upload); this moves the name.
        await closeHandle();
        const overwrote = overwrite && lstatSync(target, { throwIfNoEntry: false }) !== undefined;
        if (overwrite) {
          // rename replaces the directory entry, never writing through a hard link to the old file.
          await rename(stagingPath, target);
        } else {
          await link(stagingPath, target);
          await unlink(stagingPath);
        }
        // Durable already (data synced, event recorded); the note goes once the name is too.
        afterSync(path.dirname(target), dropNote);
        return { overwrote };
      } catch (error) {
        throw toFileError(error, virtualPath);
      }
    },
    async discard() {
      await closeHandle().catch(() => undefined);
      await unlink(stagingPath).catch(() => undefined);
      await dropNote();
    },
  };
}
