/**
 * An in-memory FileSession for protocol tests: files in a Map, uploads staged per handle and
 * published at close (discarded at abort), with hooks to delay or fail operations.
 */
import path from 'node:path';
import {
  type DirectoryEntry,
  type DirectoryHandle,
  type FileAttributes,
  FileError,
  type FileHandle,
  type FileSession,
  type FileSystemStats,
  type OpenFlags,
} from '../../../src/application/files/file-session.js';

export interface MemoryFilesHooks {
  /** Awaited before each handle write (use it to slow writes down or reorder them). */
  beforeWrite?: (offset: number, length: number) => Promise<void>;
  /** Awaited before each handle read. */
  beforeRead?: (offset: number, length: number) => Promise<void>;
}

export class MemoryFiles implements FileSession {
  readonly files = new Map<string, Buffer>();
  readonly dirs = new Set<string>(['/']);
  /** Errors to throw for any operation on these (normalised) paths. */
  readonly failures = new Map<string, unknown>();
  readonly aborted: Array<{ path: string; reason: string }> = [];
  readonly closed: string[] = [];
  readonly setstats: Array<{ path: string; attrs: FileAttributes }> = [];
  readonly writeSizes: number[] = [];
  readonly calls: string[] = [];
  hooks: MemoryFilesHooks = {};
  readdirBatch = 3;
  writesInFlight = 0;
  maxWritesInFlight = 0;
  reads = 0;
  syncs = 0;

  private check(op: string, p: string): string {
    const normalised = path.posix.resolve('/', p);
    this.calls.push(`${op} ${normalised}`);
    const failure = this.failures.get(normalised);
    if (failure !== undefined) throw failure;
    return normalised;
  }

  async realpath(p: string): Promise<string> {
    return this.check('realpath', p);
  }

  async stat(p: string): Promise<FileAttributes> {
    const at = this.check('stat', p);
    if (this.dirs.has(at)) return { mode: 0o040755, uid: 1000, gid: 1000, atime: 1, mtime: 2 };
    const data = this.files.get(at);
    if (!data) throw new FileError('not-found', `${at} not found`);
    return { size: data.length, mode: 0o100644, uid: 1000, gid: 1000, atime: 3, mtime: 4 };
  }

  async open(p: string, flags: OpenFlags): Promise<FileHandle> {
    const at = this.check('open', p);
    if (this.dirs.has(at)) throw new FileError('is-a-directory', `${at} is a directory`);
    if (!this.dirs.has(path.posix.dirname(at))) throw new FileError('not-found', 'no such directory');
    const existing = this.files.get(at);
    if (!existing && !flags.create) throw new FileError('not-found', `${at} not found`);
    if (existing && flags.create && flags.exclusive) throw new FileError('already-exists', 'exists');
    return this.handleFor(at, flags, existing && !flags.truncate ? Buffer.from(existing) : Buffer.alloc(0));
  }

  private handleFor(at: string, flags: OpenFlags, initial: Buffer): FileHandle {
    let content = initial;
    let done = false;
    const files = this;
    return {
      async read(offset, length) {
        files.reads++;
        await files.hooks.beforeRead?.(offset, length);
        if (offset >= content.length) return null;
        return content.subarray(offset, Math.min(content.length, offset + length));
      },
      async write(offset, data) {
        if (!flags.write) throw new FileError('permission-denied', 'not open for writing');
        files.writeSizes.push(data.length);
        files.writesInFlight++;
        files.maxWritesInFlight = Math.max(files.maxWritesInFlight, files.writesInFlight);
        try {
          await files.hooks.beforeWrite?.(offset, data.length);
          const end = offset + data.length;
          if (end > content.length) {
            const grown = Buffer.alloc(end);
            content.copy(grown);
            content = grown;
          }
          data.copy(content, offset);
        } finally {
          files.writesInFlight--;
        }
      },
      async stat() {
        return { size: content.length, mode: 0o100644 };
      },
      async setstat(attrs) {
        files.setstats.push({ path: at, attrs });
      },
      async sync() {
        files.syncs++;
      },
      async close() {
        if (done) throw new Error('closed twice');
        done = true;
        if (flags.write) files.files.set(at, content);
        files.closed.push(at);
        return { size: content.length, sha256: null };
      },
      async abort(reason) {
        if (done) throw new Error('aborted after close');
        done = true;
        files.aborted.push({ path: at, reason });
      },
    };
  }

  async openDirectory(p: string): Promise<DirectoryHandle> {
    const at = this.check('opendir', p);
    if (!this.dirs.has(at)) throw new FileError('not-found', `${at} not found`);
    const prefix = at === '/' ? '/' : `${at}/`;
    const children = [...this.files.keys(), ...this.dirs]
      .filter((name) => name !== at && name.startsWith(prefix) && !name.slice(prefix.length).includes('/'))
      .sort();
    const entries: DirectoryEntry[] = [];
    for (const child of children) {
      const name = child.slice(prefix.length);
      const attrs = await this.stat(child);
      entries.push({ name, longname: `-rw-r--r-- 1 u g ${attrs.size ?? 0} Jan 1 00:00 ${name}`, attrs });
    }
    const batch = this.readdirBatch;
    const files = this;
    return {
      async next() {
        if (entries.length === 0) return null;
        return entries.splice(0, batch);
      },
      async close() {
        files.closed.push(at);
      },
    };
  }

  async remove(p: string): Promise<void> {
    const at = this.check('remove', p);
    if (!this.files.delete(at)) throw new FileError('not-found', `${at} not found`);
  }

  async rename(from: string, to: string, options: { overwrite: boolean }): Promise<void> {
    const src = this.check('rename', from);
    const dst = this.check('rename-to', to);
    const data = this.files.get(src);
    if (!data) throw new FileError('not-found', `${src} not found`);
    if (this.files.has(dst) && !options.overwrite) throw new FileError('already-exists', `${dst} exists`);
    this.files.delete(src);
    this.files.set(dst, data);
  }

  async mkdir(p: string): Promise<void> {
    const at = this.check('mkdir', p);
    if (this.dirs.has(at) || this.files.has(at)) throw new FileError('already-exists', `${at} exists`);
    this.dirs.add(at);
  }

  async rmdir(p: string): Promise<void> {
    const at = this.check('rmdir', p);
    if (!this.dirs.delete(at)) throw new FileError('not-found', `${at} not found`);
  }

  async setstat(p: string, attrs: FileAttributes): Promise<void> {
    const at = this.check('setstat', p);
    this.setstats.push({ path: at, attrs });
  }

  async readlink(p: string): Promise<string> {
    this.check('readlink', p);
    throw new FileError('invalid-path', 'not a symbolic link');
  }

  async statvfs(p: string): Promise<FileSystemStats> {
    this.check('statvfs', p);
    return {
      blockSize: 4096,
      blocks: 1000,
      freeBlocks: 600,
      availableBlocks: 500,
      files: 100,
      freeFiles: 90,
      maxNameLength: 255,
    };
  }
}
