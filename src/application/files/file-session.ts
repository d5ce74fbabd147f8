/**
 * What a protocol front end (SFTP, HTTP files, FTPS) sees of the file-operations core: one
 * `FileSession` per signed-in connection or request. Paths are the client's virtual paths;
 * the core normalises them, checks permissions and policy, touches storage, records events,
 * and answers typed `FileError`s that each front end maps to its wire codes in one function.
 */

export type FileErrorCode =
  | 'not-found'
  | 'permission-denied'
  | 'already-exists'
  | 'not-a-directory'
  | 'is-a-directory'
  | 'not-empty'
  | 'invalid-path'
  | 'no-space'
  | 'unsupported'
  | 'too-many-handles'
  | 'digest-mismatch'
  | 'too-large'
  | 'quota-exceeded'
  | 'failure';

export class FileError extends Error {
  override readonly name = 'FileError';
  constructor(
    readonly code: FileErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** POSIX-like attributes, as SFTP carries them. Times are seconds since the epoch. */
export interface FileAttributes {
  readonly size?: number;
  readonly uid?: number;
  readonly gid?: number;
  /** Permission bits and file type bits (S_IFREG 0o100000, S_IFDIR 0o040000, S_IFLNK 0o120000). */
  readonly mode?: number;
  readonly atime?: number;
  readonly mtime?: number;
}

export interface DirectoryEntry {
  readonly name: string;
  /** `ls -l` style line for SFTP's longname. */
  readonly longname: string;
  readonly attrs: FileAttributes;
}

export interface OpenFlags {
  readonly read: boolean;
  readonly write: boolean;
  readonly append: boolean;
  readonly create: boolean;
  readonly truncate: boolean;
  readonly exclusive: boolean;
}

/** Opening a file to read it whole or from an offset (a download). */
export const READ_ONLY: OpenFlags = {
  read: true,
  write: false,
  append: false,
  create: false,
  truncate: false,
  exclusive: false,
};

/** What a finished transfer amounted to. */
export interface ClosedFile {
  /** Bytes stored (upload) or sent (download). */
  readonly size: number;
  /** Of the whole file, when known (every upload; downloads read whole). */
  readonly sha256: string | null;
  /** An upload replaced a file that was there (the fact its FileUploaded event records). */
  readonly overwrote?: boolean;
}

export interface FileHandle {
  /** Up to `length` bytes at `offset`; null at end of file. */
  read(offset: number, length: number): Promise<Buffer | null>;
  write(offset: number, data: Buffer): Promise<void>;
  stat(): Promise<FileAttributes>;
  setstat(attrs: FileAttributes): Promise<void>;
  /** Makes written data durable (fsync@openssh.com). */
  sync(): Promise<void>;
  /**
   * Completes the transfer: an upload becomes visible under its name and its event is
   * durable before this resolves; a download records what was sent. With `expectedSha256`,
   * an upload whose content differs is discarded, recorded as aborted, and refused with
   * `digest-mismatch`.
   */
  close(options?: { expectedSha256?: string }): Promise<ClosedFile>;
  /** The connection ended without CLOSE: an upload leaves nothing behind but UploadAborted. */
  abort(reason: string): Promise<void>;
}

export interface DirectoryHandle {
  /** The next entries, or null when the listing is complete. */
  next(): Promise<DirectoryEntry[] | null>;
  close(): Promise<void>;
}

export interface FileSystemStats {
  readonly blockSize: number;
  readonly blocks: number;
  readonly freeBlocks: number;
  readonly availableBlocks: number;
  readonly files: number;
  readonly freeFiles: number;
  readonly maxNameLength: number;
}

export interface FileSession {
  /** The canonical virtual path ('/' is the user's root). */
  realpath(path: string): Promise<string>;
  /** STAT follows symbolic links, LSTAT does not (both stay inside the root). */
  stat(path: string, options?: { followLinks?: boolean }): Promise<FileAttributes>;
  open(path: string, flags: OpenFlags, attrs?: FileAttributes): Promise<FileHandle>;
  openDirectory(path: string): Promise<DirectoryHandle>;
  remove(path: string): Promise<void>;
  /** `overwrite: false` is SFTP RENAME (never replaces); true is posix-rename. */
  rename(from: string, to: string, options: { overwrite: boolean }): Promise<void>;
  mkdir(path: string, attrs?: FileAttributes): Promise<void>;
  rmdir(path: string): Promise<void>;
  setstat(path: string, attrs: FileAttributes): Promise<void>;
  readlink(path: string): Promise<string>;
  statvfs(path: string): Promise<FileSystemStats>;
}

/** The core's session: what every protocol uses, and whole-file uploads from a stream. */
export interface CoreSession extends FileSession {
  /**
   * A whole file from a stream of chunks (an HTTP PUT): written, checked against the digest
   * sent with it, and closed (recorded as FileUploaded); anything that fails on the way ends
   * it as UploadAborted with the reason, and is thrown.
   */
  upload(path: string, body: UploadBody, options: StreamUploadOptions): Promise<UploadedFile>;
}

/** The chunks of a body; `complete()` says whether the sender sent all it meant to. */
export interface UploadBody {
  readonly chunks: AsyncIterable<Buffer>;
  complete(bytes: number): boolean;
}

export interface StreamUploadOptions {
  /** False: refuse to replace an existing file (already-exists). */
  readonly overwrite: boolean;
  /** The most bytes this upload may carry (too-large beyond). */
  readonly maxBytes: number;
  readonly expectedSha256?: string | undefined;
}

export interface UploadedFile {
  /** The canonical virtual path. */
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  readonly overwrote: boolean;
}
