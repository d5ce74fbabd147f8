/**
 * The file-operations core every protocol shares (virtual path → permission → storage →
 * event). A front end opens one `FileSession` per signed-in connection and maps the core's
 * `FileError`s to its wire codes; it never touches storage or the event store itself.
 *
 * Uploads are staged outside the user's view and become visible under their name only when
 * complete. At CLOSE: the staged data is made durable, `FileUploaded` is appended (stream
 * `file-<uploadId>`), then the file is moved into place; the reply follows. A crash between
 * the event and the move is finished at the next start (`recoverUploads`); a staged upload
 * without its event is discarded and recorded as `UploadAborted`. Deletes, renames, folders
 * and times go through intents (file-intents.ts, docs/recording.md).
 */
import { createHash, type Hash } from 'node:crypto';
import type { EventStore } from '../../domain/event-store.js';
import { type DomainEvent, toNewEvent } from '../../domain/events/catalogue.js';
import type { EventMetadata } from '../../domain/events/envelope.js';
import { fileStream } from '../../domain/events/file-events.js';
import { changedPath, type FileChange } from '../../domain/files/file-changes.js';
import {
  type FilePermission,
  isPermitted,
  type PathPermissionEntry,
} from '../../domain/files/permissions.js';
import { UPLOAD_ABORT_REASONS, uploadAborted } from '../../domain/files/uploads.js';
import { InvalidPath, parentOf, resolveVirtualPath } from '../../domain/files/virtual-path.js';
import { escapeText } from '../../domain/text.js';
import { unsafeStoredUser } from '../../domain/users/user-name.js';
import type { Clock, IdGenerator } from '../ports.js';
import { type RefusalCounter, type RefusalReason, uncounted } from '../refusals.js';
import {
  type ChangeStorage,
  type CrashPoint,
  FileIntents,
  type IntentJournal,
  type IntentNote,
  type Settled,
} from './file-intents.js';
import {
  type ClosedFile,
  type CoreSession,
  type DirectoryEntry,
  type DirectoryHandle,
  type FileAttributes,
  FileError,
  type FileHandle,
  type FileSystemStats,
  type OpenFlags,
  type StreamUploadOptions,
  type UploadBody,
  type UploadedFile,
} from './file-session.js';
import { QuotaLedger } from './quota.js';
import { StreamingDigest } from './streaming-digest.js';

export type Protocol = 'sftp' | 'http' | 'ftps' | 'flow';
type FileOperation = Extract<DomainEvent, { type: 'AccessDenied' }>['data']['operation'];

/** Who works with files, and how they reached Sluice. */
export interface FileActor {
  readonly userId: number;
  readonly userName: string;
  readonly homeFolder: string;
  readonly permissions: readonly PathPermissionEntry[];
  readonly sessionId: string;
  readonly applicationId: number;
  readonly userString: string | null;
  readonly clientIp: string;
  readonly clientPort?: number;
  readonly protocol: Protocol;
  /** The SFTP/FTPS connection, when there is one: the cause of each event. */
  readonly connectionId?: string;
  /** The user's own storage limits (null or absent: the server's). */
  readonly quotaBytes?: number | null;
  readonly maxFileBytes?: number | null;
}

/** The limits an actor's uploads keep to: its own quota instead of the server's; its own largest file within the server's. */
function limitsFor(actor: FileActor, server: TransferLimits): TransferLimits {
  return {
    ...server,
    quotaBytes: actor.quotaBytes ?? server.quotaBytes,
    maxFileBytes: Math.min(actor.maxFileBytes ?? server.maxFileBytes, server.maxFileBytes),
  };
}

/** What the core needs from storage (src/adapters/storage/local-disk.ts). */
export interface Storage extends ChangeStorage {
  home(homeFolder: string): Promise<string>;
  stat(home: string, path: string, followLinks: boolean): Promise<FileAttributes>;
  /** `stat`, or undefined when nothing is there (a link leading nowhere, followed, included). */
  find(home: string, path: string, followLinks: boolean): Promise<FileAttributes | undefined>;
  list(home: string, path: string): Promise<Array<{ name: string; attrs: FileAttributes }>>;
  openForRead(home: string, path: string): Promise<OpenedForRead>;
  stage(
    home: string,
    path: string,
    uploadId: string,
    fromExisting: boolean,
    owner: StagedOwner,
  ): Promise<StagedFile>;
  /** Uploads staged before a crash, with the owner noted when they were staged. */
  stagedUploads(): Promise<Array<{ uploadId: string; owner: StagedOwner | null }>>;
  /** Moves a staged upload under its name (recovery of a recorded upload). */
  finishStaged(uploadId: string, homeFolder: string, path: string): Promise<void>;
  discardStaged(uploadId: string): Promise<void>;
  readlink(home: string, path: string): Promise<string>;
  statfs(home: string): Promise<FileSystemStats>;
}

/** A file opened for download, with when its content and its inode last changed. */
export interface OpenedForRead {
  readonly handle: ReadableFile;
  readonly size: number;
  /** mtime, ms since the epoch. */
  readonly modifiedMs: number;
  /** ctime, ms since the epoch (moves with any change, a reset mtime included). */
  readonly changedMs: number;
}

/** What the files view says of a file: as its last recorded upload left it. */
export interface KnownDigest {
  readonly size: number;
  readonly sha256: string;
  /** When that upload (or a later rename) was recorded. */
  readonly updatedAt: Date;
}

/** Noted beside a staged upload, so an upload cut short by a crash can still be recorded. */
export interface StagedOwner {
  readonly userId: number;
  readonly sessionId: string;
  readonly homeFolder: string;
  readonly path: string;
  readonly protocol: Protocol;
}

export interface ReadableFile {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

export interface StagedFile {
  write(offset: number, data: Buffer): Promise<void>;
  read(offset: number, length: number): Promise<Buffer>;
  size(): Promise<number>;
  sync(): Promise<void>;
  /** Closes the file once it is written and synced (no more reads or writes); commit and discard still work. */
  close(): Promise<void>;
  commit(options: { overwrite: boolean }): Promise<{ overwrote: boolean }>;
  discard(): Promise<void>;
}

export interface FileOperationsDeps {
  readonly storage: Storage;
  readonly store: EventStore;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  /** Sizes and quotas every protocol's uploads keep to; none when absent. */
  readonly limits?: TransferLimits;
  /** Counts writes refused by a limit (sluice_refusals_total). */
  readonly refused?: RefusalCounter;
  /** Counts bytes CLOSE read back to hash an upload not hashed as it streamed (sluice_upload_read_back_bytes_total). */
  readonly readBack?: (bytes: number) => void;
  /** Notes of deletes, renames, folder and time changes begun (MFT_DATA_DIR/intents). */
  readonly journal: IntentJournal;
  /** Test only (MFT_TEST_CRASH_AT): called at each step of a change. */
  readonly crashAt?: ((point: CrashPoint) => void) | undefined;
  /**
   * The files view's record of a file, if any: a download of a large file unchanged since
   * then takes its sha256 from there instead of hashing every byte sent.
   */
  readonly knownDigest?: (userId: number, path: string) => Promise<KnownDigest | undefined>;
}

/** Downloads from this size on look for the recorded sha256 (below it, hashing costs less). */
const KNOWN_DIGEST_MIN_BYTES = 1024 * 1024;
/**
 * How long after its upload's event a file's inode may still change (the move into place,
 * done after the event) for the recorded sha256 to be trusted.
 */
const KNOWN_DIGEST_SETTLE_MS = 10_000;

export interface TransferLimits {
  /** Largest file any upload may make. */
  readonly maxFileBytes: number;
  /**
   * How far past the end of what an upload has written a write may start (a hole), and how
   * many bytes the upload's end may lie beyond its start size plus the bytes it received (its
   * holes together).
   */
  readonly maxWriteGapBytes: number;
  /** Bytes each user may store in all; 0: no quota. */
  readonly quotaBytes: number;
  /** Bytes a user stores now (needed with a quota). */
  readonly storedBytes?: (userId: number) => Promise<number>;
}

const NO_LIMITS: TransferLimits = {
  maxFileBytes: Number.MAX_SAFE_INTEGER,
  maxWriteGapBytes: Number.MAX_SAFE_INTEGER,
  quotaBytes: 0,
};

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const LISTING_CHUNK = 100;

/** A path as it may be recorded: controls and lone surrogates escaped, at most 4096 units. */
function printable(path: string): string {
  return escapeText(path, 4096);
}

function longname(name: string, attrs: FileAttributes, userName: string): string {
  const mode = attrs.mode ?? 0;
  const type = (mode & S_IFMT) === S_IFDIR ? 'd' : (mode & S_IFMT) === S_IFLNK ? 'l' : '-';
  const bits = ['r', 'w', 'x'];
  let perms = '';
  for (let i = 8; i >= 0; i--) perms += mode & (1 << i) ? bits[(8 - i) % 3] : '-';
  const date = new Date((attrs.mtime ?? 0) * 1000);
  const month = date.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
  const day = String(date.getUTCDate()).padStart(2, ' ');
  const time = `${String(date.getUTCHours()).padStart(2, '0')}:${String(date.getUTCMinutes()).padStart(2, '0')}`;
  const owner = userName.slice(0, 8).padEnd(8, ' ');
  return `${type}${perms}    1 ${owner} ${owner} ${String(attrs.size ?? 0).padStart(8, ' ')} ${month} ${day} ${time} ${name}`;
}

export class FileOperations {
  private readonly ledger = new QuotaLedger();
  private readonly intents: FileIntents;

  constructor(private readonly deps: FileOperationsDeps) {
    this.intents = new FileIntents({
      journal: deps.journal,
      storage: deps.storage,
      store: deps.store,
      crashAt: deps.crashAt,
    });
  }

  session(actor: FileActor): CoreSession {
    return new CoreFileSession(this.deps, actor, this.ledger, this.intents);
  }

  /**
   * After a restart: deletes, renames, folder and time changes a stop cut short are finished
   * when their event was recorded, else recorded as undone and put back (docs/recording.md).
   */
  recoverChanges(
    onSettled?: (note: IntentNote, settled: Settled) => void,
  ): Promise<{ finished: number; undone: number }> {
    return this.intents.recover(onSettled);
  }

  /** Settles changes whose event could not be appended while running, once the store answers. */
  retryUnsettledChanges(
    onSettled?: (note: IntentNote, settled: Settled) => void,
  ): Promise<{ finished: number; undone: number }> {
    return this.intents.retryUnsettled(onSettled);
  }

  /**
   * After a restart: staged uploads whose FileUploaded was recorded are moved into place;
   * the rest are discarded and recorded as UploadAborted.
   */
  async recoverUploads(): Promise<{ finished: number; discarded: number }> {
    const { storage, store, ids } = this.deps;
    let finished = 0;
    let discarded = 0;
    for (const { uploadId, owner } of await storage.stagedUploads()) {
      const [recorded] = await store.readStream(fileStream(uploadId), { maxCount: 1 });
      if (recorded?.type === 'FileUploaded' && owner) {
        await storage.finishStaged(uploadId, owner.homeFolder, owner.path);
        finished++;
        continue;
      }
      await storage.discardStaged(uploadId);
      discarded++;
      if (recorded || !owner) continue;
      await store.appendToStream(
        fileStream(uploadId),
        [
          toNewEvent(
            uploadAborted(
              { protocol: owner.protocol, path: owner.path, bytesReceived: 0 },
              UPLOAD_ABORT_REASONS.serverStopped,
            ),
            {
              envelopeVersion: 1,
              correlationId: ids.uuid(),
              actor: { userId: owner.userId, sessionId: owner.sessionId },
            },
          ),
        ],
        { expectedRevision: 'no_stream' },
      );
    }
    return { finished, discarded };
  }
}

class CoreFileSession implements CoreSession {
  private homeDir: Promise<string> | undefined;
  /** Why this user may not reach files at all (a name or home from before the rules), or null. */
  private readonly unsafe: string | null;

  constructor(
    readonly deps: FileOperationsDeps,
    private readonly actor: FileActor,
    private readonly ledger: QuotaLedger,
    private readonly intents: FileIntents,
  ) {
    this.unsafe = unsafeStoredUser(actor);
  }

  get userId(): number {
    return this.actor.userId;
  }

  home(): Promise<string> {
    if (this.unsafe !== null) return Promise.reject(new FileError('permission-denied', this.unsafe));
    this.homeDir ??= this.deps.storage.home(this.actor.homeFolder);
    return this.homeDir;
  }

  /** The home on disk for `operation` on `path`; a user whose name or home is unsafe gets a recorded denial. */
  private async homeFor(operation: FileOperation, path: string): Promise<string> {
    if (this.unsafe !== null) return this.deny(operation, path, this.unsafe);
    return this.home();
  }

  metadata(): EventMetadata {
    const a = this.actor;
    return {
      envelopeVersion: 1,
      correlationId: this.deps.ids.uuid(),
      ...(a.connectionId === undefined ? {} : { causationId: a.connectionId }),
      actor: {
        userId: a.userId,
        applicationId: a.applicationId,
        sessionId: a.sessionId,
        clientIp: a.clientIp,
        ...(a.clientPort === undefined ? {} : { clientPort: a.clientPort }),
        ...(a.userString === null ? {} : { userString: a.userString }),
      },
    };
  }

  /** Appends one event in a stream of its own; resolves once it is durable. */
  /** Appends to `file-<id>`: a new stream, or the next event of one (`after` its last revision). */
  async record(event: DomainEvent, id = this.deps.ids.uuid(), after?: number): Promise<void> {
    await this.deps.store.appendToStream(fileStream(id), [toNewEvent(event, this.metadata())], {
      expectedRevision: after ?? 'no_stream',
    });
  }

  private async deny(
    operation: FileOperation,
    path: string,
    reason: string,
    code: 'permission-denied' | 'invalid-path' = 'permission-denied',
  ): Promise<never> {
    await this.record({
      type: 'AccessDenied',
      data: { protocol: this.actor.protocol, operation, path: printable(path), reason },
    });
    throw new FileError(code, `${printable(path)}: ${reason}`);
  }

  /** The canonical virtual path, or a recorded denial. */
  private async resolve(path: string, operation: FileOperation): Promise<string> {
    try {
      return resolveVirtualPath(path);
    } catch (error) {
      if (error instanceof InvalidPath) return this.deny(operation, path, error.message, 'invalid-path');
      throw error;
    }
  }

  private async require(path: string, permission: FilePermission, operation: FileOperation): Promise<void> {
    if (!isPermitted(this.actor.permissions, path, permission)) {
      await this.deny(operation, path, `no ${permission} permission here`);
    }
  }

  /**
   * What it takes to learn a path's attributes (STAT, LSTAT, HEAD, READLINK): `list` or
   * `download` at the path, or `list` on the folder that holds it (a listing would show it).
   * An upload-only user learns nothing about what is there.
   */
  private mayInspect(path: string): boolean {
    const entries = this.actor.permissions;
    return (
      isPermitted(entries, path, 'list') ||
      isPermitted(entries, path, 'download') ||
      (path !== '/' && isPermitted(entries, parentOf(path), 'list'))
    );
  }

  private async requireInspect(path: string, operation: FileOperation): Promise<void> {
    if (!this.mayInspect(path)) await this.deny(operation, path, 'no list or download permission here');
  }

  /** Storage refused because the real location leaves the home: recorded like any denial. */
  private async guarded<T>(operation: FileOperation, path: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof FileError && error.code === 'permission-denied')
        await this.deny(operation, path, error.message.replace(/^[^:]*: /, ''));
      throw error;
    }
  }

  async realpath(path: string): Promise<string> {
    return this.resolve(path, 'stat');
  }

  async upload(path: string, body: UploadBody, options: StreamUploadOptions): Promise<UploadedFile> {
    // No STAT first: an upload-only user may not learn what is there. Opening refuses an
    // existing target when it may not be replaced (already-exists), and closing says whether
    // the upload replaced one.
    const handle = await this.open(path, {
      read: false,
      write: true,
      append: false,
      create: true,
      truncate: true,
      exclusive: !options.overwrite,
    });
    let offset = 0;
    try {
      for await (const chunk of body.chunks) {
        if (offset + chunk.length > options.maxBytes)
          throw new FileError('too-large', `Uploads are limited to ${options.maxBytes} bytes`);
        await handle.write(offset, chunk);
        offset += chunk.length;
      }
      if (!body.complete(offset))
        throw new FileError('failure', 'the client stopped sending before the end of the body');
    } catch (error) {
      await handle.abort(
        error instanceof FileError ? error.message : 'the client disconnected during the upload',
      );
      throw error;
    }
    const stored = await handle.close(
      options.expectedSha256 === undefined ? {} : { expectedSha256: options.expectedSha256 },
    );
    return {
      path: await this.realpath(path),
      size: stored.size,
      sha256: stored.sha256 ?? '',
      overwrote: stored.overwrote === true,
    };
  }

  async stat(path: string, options: { followLinks?: boolean } = {}): Promise<FileAttributes> {
    const resolved = await this.resolve(path, 'stat');
    await this.requireInspect(resolved, 'stat');
    const home = await this.homeFor('stat', resolved);
    return this.guarded('stat', resolved, () =>
      this.deps.storage.stat(home, resolved, options.followLinks ?? true),
    );
  }

  async open(path: string, flags: OpenFlags): Promise<FileHandle> {
    const writing = flags.write || flags.append || flags.create || flags.truncate;
    const resolved = await this.resolve(path, writing ? 'upload' : 'download');
    const home = await this.homeFor(writing ? 'upload' : 'download', resolved);
    if (!writing) {
      await this.require(resolved, 'download', 'download');
      const opened = await this.guarded('download', resolved, () =>
        this.deps.storage.openForRead(home, resolved),
      );
      const known = await this.recordedDigest(resolved, opened);
      return new DownloadHandle(this, resolved, opened.handle, opened.size, this.deps.storage, home, known);
    }
    const existing = await this.deps.storage.find(home, resolved, true).catch(() => undefined);
    const isDirectory = existing !== undefined && ((existing.mode ?? 0) & S_IFMT) === S_IFDIR;
    // Permission first: a refused writer learns nothing about what is there.
    if (existing && !flags.exclusive && !isDirectory) await this.require(resolved, 'overwrite', 'overwrite');
    else await this.require(resolved, 'upload', 'upload');
    if (existing && flags.exclusive) throw new FileError('already-exists', `${resolved}: already exists`);
    if (isDirectory) throw new FileError('is-a-directory', `${resolved}: is a directory`);
    const mayOverwrite = !flags.exclusive && isPermitted(this.actor.permissions, resolved, 'overwrite');
    const uploadId = this.deps.ids.uuid();
    const fromExisting = existing !== undefined && !flags.truncate;
    const owner: StagedOwner = {
      userId: this.actor.userId,
      sessionId: this.actor.sessionId,
      homeFolder: this.actor.homeFolder,
      path: resolved,
      protocol: this.actor.protocol,
    };
    const limits = limitsFor(this.actor, this.deps.limits ?? NO_LIMITS);
    // The room this upload may fill: the quota less what the user stores, plus the file it replaces.
    const room =
      limits.quotaBytes > 0 && limits.storedBytes
        ? limits.quotaBytes - (await limits.storedBytes(this.actor.userId)) + (existing?.size ?? 0)
        : Number.POSITIVE_INFINITY;
    const staged = await this.guarded('upload', resolved, () =>
      this.deps.storage.stage(home, resolved, uploadId, fromExisting, owner),
    );
    return new UploadHandle(this, resolved, uploadId, staged, {
      mayOverwrite,
      fromExisting,
      startSize: fromExisting ? (existing?.size ?? 0) : 0,
      appendAt: flags.append ? (existing?.size ?? 0) : null,
      limits,
      room,
      ledger: this.ledger,
      refused: this.deps.refused ?? uncounted,
    });
  }

  /**
   * The sha256 recorded for this file when it is large and provably as its last recorded
   * upload left it: the same size, content not modified since (mtime), and nothing about the
   * inode changed since shortly after (ctime: a content change, or an mtime set back, moves
   * it). Otherwise, or when the view cannot answer, undefined: the download is hashed.
   */
  private async recordedDigest(path: string, opened: OpenedForRead): Promise<string | undefined> {
    const lookup = this.deps.knownDigest;
    if (!lookup || opened.size < KNOWN_DIGEST_MIN_BYTES) return undefined;
    const known = await lookup(this.actor.userId, path).catch(() => undefined);
    if (!known || known.size !== opened.size) return undefined;
    const recorded = known.updatedAt.getTime();
    const unchanged = opened.modifiedMs <= recorded && opened.changedMs <= recorded + KNOWN_DIGEST_SETTLE_MS;
    return unchanged ? known.sha256 : undefined;
  }

  async openDirectory(path: string): Promise<DirectoryHandle> {
    const resolved = await this.resolve(path, 'list');
    await this.require(resolved, 'list', 'list');
    const home = await this.homeFor('list', resolved);
    const entries = await this.guarded('list', resolved, () => this.deps.storage.list(home, resolved));
    const userName = this.actor.userName;
    let index = 0;
    return {
      async next(): Promise<DirectoryEntry[] | null> {
        if (index >= entries.length) return null;
        const chunk = entries.slice(index, index + LISTING_CHUNK);
        index += chunk.length;
        return chunk.map((e) => ({
          name: e.name,
          attrs: e.attrs,
          longname: longname(e.name, e.attrs, userName),
        }));
      },
      async close() {
        index = entries.length;
      },
    };
  }

  /** Makes `change` through an intent (file-intents.ts); refusals by storage are recorded like any. */
  private async change(operation: FileOperation, home: string, change: FileChange): Promise<void> {
    const note = {
      intentId: this.deps.ids.uuid(),
      homeFolder: this.actor.homeFolder,
      change,
      metadata: this.metadata(),
    };
    await this.guarded(operation, changedPath(change), () => this.intents.make(note, home));
  }

  async remove(path: string): Promise<void> {
    const resolved = await this.resolve(path, 'delete');
    await this.require(resolved, 'delete', 'delete');
    const home = await this.homeFor('delete', resolved);
    await this.change('delete', home, { kind: 'delete', protocol: this.actor.protocol, path: resolved });
  }

  async rename(from: string, to: string, options: { overwrite: boolean }): Promise<void> {
    const source = await this.resolve(from, 'rename');
    const target = await this.resolve(to, 'rename');
    await this.require(source, 'rename', 'rename');
    await this.require(target, 'rename', 'rename');
    const home = await this.homeFor('rename', source);
    if (options.overwrite && (await this.deps.storage.find(home, target, false).catch(() => undefined))) {
      await this.require(target, 'overwrite', 'overwrite');
    }
    await this.change('rename', home, {
      kind: 'rename',
      protocol: this.actor.protocol,
      from: source,
      to: target,
      overwrite: options.overwrite,
    });
  }

  async mkdir(path: string): Promise<void> {
    const resolved = await this.resolve(path, 'mkdir');
    await this.require(resolved, 'mkdir', 'mkdir');
    const home = await this.homeFor('mkdir', resolved);
    // Refused before the intent: an undo must never remove a folder that was already there.
    const existing = await this.deps.storage.find(home, resolved, false).catch(() => undefined);
    if (existing) throw new FileError('already-exists', `${resolved}: already exists`);
    await this.change('mkdir', home, { kind: 'mkdir', protocol: this.actor.protocol, path: resolved });
  }

  async rmdir(path: string): Promise<void> {
    const resolved = await this.resolve(path, 'rmdir');
    await this.require(resolved, 'rmdir', 'rmdir');
    const home = await this.homeFor('rmdir', resolved);
    await this.change('rmdir', home, { kind: 'rmdir', protocol: this.actor.protocol, path: resolved });
  }

  /**
   * Times are applied and recorded (`FileAttributesChanged`), with the `overwrite` permission:
   * they change a file that is there, as replacing it would. Permission bits and owners are
   * accepted and left alone (nothing changes, nothing is recorded); a size is refused.
   */
  async setstat(path: string, attrs: FileAttributes): Promise<void> {
    const resolved = await this.resolve(path, 'setstat');
    if (attrs.size !== undefined)
      throw new FileError('unsupported', 'changing a file’s size is not supported; upload it again');
    const setsTimes = attrs.mtime !== undefined || attrs.atime !== undefined;
    // Checked before storage is asked: a refused SETSTAT must not tell whether the path exists.
    if (setsTimes) await this.require(resolved, 'overwrite', 'setstat');
    else if (!isPermitted(this.actor.permissions, resolved, 'overwrite'))
      await this.requireInspect(resolved, 'setstat');
    const home = await this.homeFor('setstat', resolved);
    const before = await this.guarded('setstat', resolved, () =>
      this.deps.storage.stat(home, resolved, true),
    );
    if (!setsTimes) return;
    const now = Math.floor(this.deps.clock.now().getTime() / 1000);
    await this.change('setstat', home, {
      kind: 'setstat',
      protocol: this.actor.protocol,
      path: resolved,
      atime: attrs.atime ?? now,
      mtime: attrs.mtime ?? now,
      previousAtime: before.atime ?? 0,
      previousMtime: before.mtime ?? 0,
    });
  }

  async readlink(path: string): Promise<string> {
    const resolved = await this.resolve(path, 'stat');
    await this.requireInspect(resolved, 'stat');
    const home = await this.homeFor('stat', resolved);
    return this.guarded('stat', resolved, () => this.deps.storage.readlink(home, resolved));
  }

  async statvfs(path: string): Promise<FileSystemStats> {
    const resolved = await this.resolve(path, 'stat');
    return this.deps.storage.statfs(await this.homeFor('stat', resolved));
  }

  get protocol(): Protocol {
    return this.actor.protocol;
  }
}

/** Reads of one download: the event at CLOSE says whether the whole file went, and its sha256. */
class DownloadHandle implements FileHandle {
  private readonly hash: Hash = createHash('sha256');
  private nextOffset = 0;
  private inOrder = true;
  private bytesSent = 0;
  private firstOffset: number | null = null;
  private readonly ahead = new Map<number, Buffer>();
  private reads = 0;
  private closed = false;
  /** DownloadStarted, recorded once before the first byte is sent. */
  private started: Promise<void> | undefined;
  private readonly downloadId: string;

  constructor(
    private readonly session: CoreFileSession,
    private readonly path: string,
    private readonly file: ReadableFile,
    private readonly size: number,
    private readonly storage: Storage,
    private readonly home: string,
    /** The file's recorded sha256, valid for it as opened (else undefined: hash what is sent). */
    private readonly knownSha256: string | undefined,
  ) {
    this.downloadId = session.deps.ids.uuid();
  }

  async read(offset: number, length: number): Promise<Buffer | null> {
    // Nothing leaves before the download is on record; if it cannot be, no read succeeds.
    this.started ??= this.session.record(
      {
        type: 'DownloadStarted',
        data: { protocol: this.session.protocol, path: this.path, size: this.size, offset },
      },
      this.downloadId,
    );
    await this.started;
    this.reads++;
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await this.file.read(buffer, 0, length, offset);
    if (bytesRead === 0) return null;
    const data = buffer.subarray(0, bytesRead);
    this.firstOffset = this.firstOffset === null ? offset : Math.min(this.firstOffset, offset);
    this.bytesSent += bytesRead;
    this.digest(offset, data);
    return data;
  }

  /**
   * Clients pipeline reads and they complete out of order: pieces ahead of the hash wait in a
   * small buffer until the gap before them is filled. A re-read or a runaway buffer gives up
   * the streaming hash (the download is then recorded as a range).
   */
  private digest(offset: number, data: Buffer): void {
    if (!this.inOrder) return;
    if (offset < this.nextOffset) {
      this.inOrder = false;
      this.ahead.clear();
      return;
    }
    this.ahead.set(offset, data);
    if (this.ahead.size > 512) {
      this.inOrder = false;
      this.ahead.clear();
      return;
    }
    for (let next = this.ahead.get(this.nextOffset); next; next = this.ahead.get(this.nextOffset)) {
      this.ahead.delete(this.nextOffset);
      if (this.knownSha256 === undefined) this.hash.update(next);
      this.nextOffset += next.length;
    }
  }

  async write(): Promise<void> {
    throw new FileError('permission-denied', `${this.path}: opened for reading`);
  }

  async stat(): Promise<FileAttributes> {
    return this.storage.stat(this.home, this.path, true);
  }

  async setstat(attrs: FileAttributes): Promise<void> {
    await this.session.setstat(this.path, attrs);
  }

  async sync(): Promise<void> {}

  async close(): Promise<ClosedFile> {
    if (this.closed) return { size: this.bytesSent, sha256: null };
    this.closed = true;
    await this.file.close();
    if (this.reads === 0) return { size: 0, sha256: null };
    const whole =
      this.inOrder && this.firstOffset !== null && this.firstOffset === 0 && this.nextOffset >= this.size;
    const emptyWhole = this.size === 0 && this.bytesSent === 0;
    const sha256 = whole || emptyWhole ? (this.knownSha256 ?? this.hash.digest('hex')) : null;
    await this.session.record(
      {
        type: 'FileDownloaded',
        data: {
          protocol: this.session.protocol,
          path: this.path,
          bytesSent: this.bytesSent,
          whole: whole || emptyWhole,
          offset: this.firstOffset ?? 0,
          sha256,
        },
      },
      this.downloadId,
      0,
    );
    return { size: this.bytesSent, sha256 };
  }

  async abort(): Promise<void> {
    await this.close();
  }
}

interface UploadOptions {
  readonly mayOverwrite: boolean;
  /** The upload starts as a copy of the current file (resume). */
  readonly fromExisting: boolean;
  /** Size of the staged file when opened. */
  readonly startSize: number;
  /** For O_APPEND: where writes go regardless of their offset. */
  readonly appendAt: number | null;
  readonly limits: TransferLimits;
  /** Bytes of quota this upload may reserve (Infinity without a quota). */
  readonly room: number;
  readonly ledger: QuotaLedger;
  readonly refused: RefusalCounter;
}

/**
 * Writes of one upload, staged. Each write is checked before it touches the disk: the file may
 * not grow past the largest file size nor the user's quota, a write may not start far past
 * what was written (a sparse hole), and the holes together may not pass the same limit. A refused write ends the upload at once (discarded, recorded
 * as UploadAborted with the reason); later writes and CLOSE answer the same error. The sha256 is
 * computed while writes arrive; only an upload written out of order is read back at CLOSE.
 */
class UploadHandle implements FileHandle {
  private readonly digest = new StreamingDigest();
  private appendAt: number | null;
  /** The end of the data: the size when opened, then the furthest byte written. */
  private end: number;
  private reserved = 0;
  private received = 0;
  /** Whether `end` is the staged file's size (not when it began as a copy, or a write failed). */
  private sizeKnown: boolean;
  private done = false;
  private refusal: FileError | undefined;

  constructor(
    private readonly session: CoreFileSession,
    private readonly path: string,
    private readonly uploadId: string,
    private readonly staged: StagedFile,
    private readonly options: UploadOptions,
  ) {
    this.appendAt = options.appendAt;
    this.end = options.startSize;
    this.sizeKnown = !options.fromExisting;
    if (options.fromExisting) this.digest.giveUp();
  }

  async read(offset: number, length: number): Promise<Buffer | null> {
    const data = await this.staged.read(offset, length);
    return data.length === 0 ? null : data;
  }

  async write(offset: number, data: Buffer): Promise<void> {
    if (this.refusal) throw this.refusal;
    if (this.done) throw new FileError('failure', `${this.path}: the upload is finished`);
    let at = offset;
    if (this.appendAt !== null) {
      at = this.appendAt;
      this.appendAt += data.length;
    }
    // Checked and reserved before the first await: pipelined writes see each other's growth.
    const refusal = this.check(at, data.length);
    if (refusal) {
      await this.refuse(...refusal);
      throw this.refusal;
    }
    this.digest.update(at, data);
    this.received += data.length;
    try {
      await this.staged.write(at, data);
    } catch (error) {
      // What reached the disk may not be what was hashed and counted: CLOSE reads it back.
      this.digest.giveUp();
      this.sizeKnown = false;
      // A write still running when another one was refused finds the staged file gone.
      throw this.refusal ?? error;
    }
  }

  /** Why a write of `length` bytes at `at` is refused, if it is; else reserves its growth. */
  private check(at: number, length: number): [RefusalReason, FileError] | undefined {
    const { limits, ledger, room } = this.options;
    const end = at + length;
    if (end > limits.maxFileBytes) {
      return [
        'file-too-large',
        new FileError('too-large', `${this.path}: files are limited to ${limits.maxFileBytes} bytes`),
      ];
    }
    if (at > this.end + limits.maxWriteGapBytes) {
      return [
        'write-gap',
        new FileError(
          'failure',
          `${this.path}: a write at offset ${at} starts more than ${limits.maxWriteGapBytes} bytes past the end of the data (${this.end})`,
        ),
      ];
    }
    // The holes together: a ladder of small writes, each within the gap, may not build a huge
    // sparse file that CLOSE would read back.
    const holes = Math.max(end, this.end) - this.options.startSize - this.received - length;
    if (holes > limits.maxWriteGapBytes) {
      return [
        'write-gap',
        new FileError(
          'failure',
          `${this.path}: a write at offset ${at} would leave ${holes} bytes unwritten below the end of the data, more than ${limits.maxWriteGapBytes}`,
        ),
      ];
    }
    if (end > this.end) {
      const growth = end - this.end;
      if (room !== Number.POSITIVE_INFINITY) {
        if (!ledger.tryReserve(this.session.userId, growth, room)) {
          return [
            'quota',
            new FileError(
              'quota-exceeded',
              `${this.path}: your quota of ${limits.quotaBytes} bytes would be exceeded`,
            ),
          ];
        }
        this.reserved += growth;
      }
      this.end = end;
    }
    return undefined;
  }

  /** Ends the upload on a refused write: nothing stays staged, the reason is recorded. */
  private async refuse(reason: RefusalReason, error: FileError): Promise<void> {
    if (this.refusal) return;
    this.refusal = error;
    this.options.refused(reason);
    await this.abort(error.message);
  }

  private releaseQuota(): void {
    if (this.reserved > 0) this.options.ledger.release(this.session.userId, this.reserved);
    this.reserved = 0;
  }

  async stat(): Promise<FileAttributes> {
    return { size: await this.staged.size(), mode: 0o100640 };
  }

  async setstat(attrs: FileAttributes): Promise<void> {
    if (attrs.size !== undefined)
      throw new FileError('unsupported', 'changing a file’s size is not supported');
  }

  async sync(): Promise<void> {
    if (this.refusal) throw this.refusal;
    await this.staged.sync();
  }

  private async sha256(size: number): Promise<string> {
    const streamed = this.digest.digestOf(size);
    if (streamed !== null) return streamed;
    // Written out of order (or resumed): read the staged file back once. Its size is bounded by
    // the largest file size, and by the start size plus the bytes received plus the write gap.
    const hash = createHash('sha256');
    for (let offset = 0; offset < size; ) {
      const chunk = await this.staged.read(offset, Math.min(1 << 20, size - offset));
      if (chunk.length === 0) break;
      this.session.deps.readBack?.(chunk.length);
      hash.update(chunk);
      offset += chunk.length;
    }
    return hash.digest('hex');
  }

  async close(options: { expectedSha256?: string } = {}): Promise<ClosedFile> {
    if (this.refusal) throw this.refusal;
    if (this.done) throw new FileError('failure', `${this.path}: the upload is already finished`);
    this.done = true;
    try {
      return await this.finish(options);
    } finally {
      this.releaseQuota();
    }
  }

  private async finish(options: { expectedSha256?: string }): Promise<ClosedFile> {
    // Independent of one another, so side by side: the size, the data made durable, whether
    // the folder is still there, and whether the name is taken now (the event records whether
    // the upload replaced a file).
    const home = await this.session.home();
    const storage = this.session.deps.storage;
    const [size, folder, exists] = await Promise.all([
      this.sizeKnown ? this.end : this.staged.size(),
      storage.find(home, parentOf(this.path), true).catch(() => undefined),
      storage.find(home, this.path, false).then(
        (found) => found !== undefined,
        () => false,
      ),
      this.staged.sync(),
    ]);
    const sha256 = await this.sha256(size);
    if (options.expectedSha256 !== undefined && options.expectedSha256 !== sha256) {
      await this.aborted(UPLOAD_ABORT_REASONS.digestMismatch, this.uploadId);
      throw new FileError(
        'digest-mismatch',
        `${this.path}: the content does not match the digest sent with it`,
      );
    }
    const protocol = this.session.protocol;
    const event: DomainEvent = {
      type: 'FileUploaded',
      data: { protocol, path: this.path, size, sha256, overwrote: exists },
    };
    try {
      // Checked before the event: an upload whose folder went while it was written ends unrecorded.
      // (A change between these checks and the move is still recorded as uploaded, then aborted.)
      if (((folder?.mode ?? 0) & S_IFMT) !== S_IFDIR)
        throw new FileError('not-found', `${parentOf(this.path)}: the folder is no longer there`);
      if (exists && !this.options.mayOverwrite)
        throw new FileError('already-exists', `${this.path}: already exists`);
      // The event first (durable), then the name: a crash in between is finished at restart.
      // The staged file is closed meanwhile.
      await Promise.all([this.session.record(event, this.uploadId), this.staged.close()]);
      const { overwrote } = await this.staged.commit({ overwrite: this.options.mayOverwrite });
      return { size, sha256, overwrote };
    } catch (error) {
      // Its own stream: FileUploaded may already be on the upload's.
      await this.aborted(error instanceof FileError ? error.message : UPLOAD_ABORT_REASONS.notStored);
      throw error;
    }
  }

  /** Discards what was staged and records why the upload left no file. */
  private async aborted(reason: string, streamId?: string): Promise<void> {
    await this.staged.discard();
    const event = uploadAborted(
      { protocol: this.session.protocol, path: this.path, bytesReceived: this.received },
      reason,
    );
    await this.session.record(event, streamId);
  }

  async abort(reason: string): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.releaseQuota();
    await this.aborted(reason, this.uploadId);
  }
}
