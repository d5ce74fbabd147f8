/**
 * What each request does: an immediate reply, or work on the FileSession with the ordering
 * claims it needs (see ordering.ts). Thrown errors are mapped to a STATUS by the session.
 */
import { type DirectoryEntry, FileError, type FileSession } from '../../../application/files/file-session.js';
import { isEmptyAttrs } from './attrs.js';
import { SFTP_LIMITS, StatusCode } from './constants.js';
import type { HandleEntry, HandleTable } from './handles.js';
import type { Claim } from './ordering.js';
import type { SftpRequest } from './requests.js';
import {
  attrsPacket,
  dataPacket,
  handlePacket,
  limitsReplyPacket,
  nameEntryLength,
  namePacket,
  type Reply,
  statusPacket,
  statvfsReplyPacket,
} from './responses.js';

export type Plan =
  | { readonly now: Reply }
  | {
      readonly claims: readonly Claim[];
      readonly work: () => Promise<Reply>;
      /** Runs instead of `work` when the session ended before the work could start. */
      readonly onSkip?: () => Promise<void>;
    };

export interface OperationContext {
  readonly files: FileSession;
  readonly handles: HandleTable;
  readonly counters: { bytesIn: number; bytesOut: number };
  /** Releases a handle whose CLOSE never ran (abort a file, close a directory). */
  release(entry: HandleEntry): Promise<void>;
}

/** Entries per NAME reply, and the bytes they may take (clients accept 256 KiB packets). */
const NAME_BATCH_ENTRIES = 128;
const NAME_BATCH_BYTES = 192 * 1024;

/** The lane of namespace operations (path requests, OPEN, and CLOSE of a file). */
const NAMESPACE = 'namespace';

const ok = (id: number): Buffer => statusPacket(id, StatusCode.OK, 'OK');
const now = (reply: Reply): Plan => ({ now: reply });
const failure = (id: number, message: string): Plan => now(statusPacket(id, StatusCode.FAILURE, message));
const tooManyHandles = (): FileError => new FileError('too-many-handles', 'too many open handles');

function lane(handles: HandleTable, handle: Buffer): string {
  return `handle:${handles.key(handle)}`;
}

/** Takes entries off `pending` for one NAME reply, within the entry and byte budgets. */
function takeNameBatch(pending: DirectoryEntry[]): DirectoryEntry[] {
  let bytes = 0;
  let count = 0;
  while (count < pending.length && count < NAME_BATCH_ENTRIES) {
    const next = bytes + nameEntryLength(pending[count]!);
    if (count > 0 && next > NAME_BATCH_BYTES) break;
    bytes = next;
    count++;
  }
  return pending.splice(0, count);
}

type HandleRequest = Extract<SftpRequest, { handle: Buffer }>;

/** Requests naming a handle: resolved here, so the rest of the table sees a live entry. */
function planHandleRequest(request: HandleRequest, ctx: OperationContext): Plan {
  const { files, handles, counters } = ctx;
  const id = request.id;
  const own = lane(handles, request.handle);
  if (request.kind === 'close') {
    const entry = handles.take(request.handle);
    if (!entry) return failure(id, 'invalid handle');
    // Closing a file publishes it: later namespace requests wait for it.
    const claims: Claim[] = [[own, 'exclusive']];
    if (entry.kind === 'file') claims.push([NAMESPACE, 'exclusive']);
    return {
      claims,
      work: async () => {
        await entry.handle.close();
        return ok(id);
      },
      onSkip: () => ctx.release(entry),
    };
  }
  const entry = handles.get(request.handle);
  if (!entry) return failure(id, 'invalid handle');
  switch (request.kind) {
    case 'read': {
      if (entry.kind !== 'file') return failure(id, 'not a file handle');
      const length = Math.min(request.length, SFTP_LIMITS.maxReadLength);
      return {
        claims: [[own, 'shared']],
        work: async () => {
          const data = await entry.handle.read(request.offset, length);
          if (data === null || data.length === 0) return statusPacket(id, StatusCode.EOF, 'end of file');
          const payload = data.length > length ? data.subarray(0, length) : data;
          counters.bytesOut += payload.length;
          return dataPacket(id, payload);
        },
      };
    }
    case 'write': {
      if (entry.kind !== 'file') return failure(id, 'not a file handle');
      return {
        claims: [[own, 'shared']],
        work: async () => {
          await entry.handle.write(request.offset, request.data);
          counters.bytesIn += request.data.length;
          return ok(id);
        },
      };
    }
    case 'fstat':
      return {
        claims: [[own, 'shared']],
        work: async () =>
          attrsPacket(
            id,
            entry.kind === 'file'
              ? await entry.handle.stat()
              : await files.stat(entry.path, { followLinks: true }),
          ),
      };
    case 'fsetstat':
      return {
        claims: [[own, 'exclusive']],
        work: async () => {
          if (entry.kind === 'file') await entry.handle.setstat(request.attrs);
          else await files.setstat(entry.path, request.attrs);
          return ok(id);
        },
      };
    case 'fsync': {
      if (entry.kind !== 'file') return failure(id, 'not a file handle');
      return {
        claims: [[own, 'exclusive']],
        work: async () => {
          await entry.handle.sync();
          return ok(id);
        },
      };
    }
    case 'fstatvfs':
      return {
        claims: [[own, 'shared']],
        work: async () => statvfsReplyPacket(id, await files.statvfs(entry.path)),
      };
    case 'readdir': {
      if (entry.kind !== 'directory') return failure(id, 'not a directory handle');
      return {
        claims: [[own, 'exclusive']],
        work: async () => {
          while (entry.pending.length === 0 && !entry.done) {
            const batch = await entry.handle.next();
            if (batch === null) entry.done = true;
            else entry.pending = batch;
          }
          if (entry.pending.length === 0) return statusPacket(id, StatusCode.EOF, 'end of directory');
          return namePacket(id, takeNameBatch(entry.pending));
        },
      };
    }
  }
}

/** A namespace request: runs `fn` then answers OK. */
function mutation(fn: () => Promise<void>, id: number): Plan {
  return {
    claims: [[NAMESPACE, 'exclusive']],
    work: async () => {
      await fn();
      return ok(id);
    },
  };
}

function query(work: () => Promise<Reply>): Plan {
  return { claims: [[NAMESPACE, 'shared']], work };
}

export function planRequest(request: SftpRequest, ctx: OperationContext): Plan {
  const { files, handles } = ctx;
  const id = request.id;
  switch (request.kind) {
    case 'close':
    case 'read':
    case 'write':
    case 'fstat':
    case 'fsetstat':
    case 'fsync':
    case 'fstatvfs':
    case 'readdir':
      return planHandleRequest(request, ctx);
    case 'open': {
      const { flags, path, attrs } = request;
      const mutates = flags.write || flags.create || flags.truncate || flags.append;
      return {
        claims: [[NAMESPACE, mutates ? 'exclusive' : 'shared']],
        work: async () => {
          if (!handles.reserve()) throw tooManyHandles();
          try {
            const handle = await files.open(path, flags, isEmptyAttrs(attrs) ? undefined : attrs);
            return handlePacket(id, handles.add({ kind: 'file', handle, path }));
          } catch (error) {
            handles.release();
            throw error;
          }
        },
      };
    }
    case 'opendir': {
      const { path } = request;
      return query(async () => {
        if (!handles.reserve()) throw tooManyHandles();
        try {
          const handle = await files.openDirectory(path);
          return handlePacket(id, handles.add({ kind: 'directory', handle, path, pending: [], done: false }));
        } catch (error) {
          handles.release();
          throw error;
        }
      });
    }
    case 'stat':
    case 'lstat': {
      const followLinks = request.kind === 'stat';
      return query(async () => attrsPacket(id, await files.stat(request.path, { followLinks })));
    }
    case 'realpath':
      return query(async () => {
        const resolved = await files.realpath(request.path === '' ? '.' : request.path);
        return namePacket(id, [{ name: resolved, longname: resolved, attrs: {} }]);
      });
    case 'readlink':
      return query(async () => {
        const target = await files.readlink(request.path);
        return namePacket(id, [{ name: target, longname: target, attrs: {} }]);
      });
    case 'statvfs':
      return query(async () => statvfsReplyPacket(id, await files.statvfs(request.path)));
    case 'setstat':
      return mutation(() => files.setstat(request.path, request.attrs), id);
    case 'remove':
      return mutation(() => files.remove(request.path), id);
    case 'rmdir':
      return mutation(() => files.rmdir(request.path), id);
    case 'mkdir':
      return mutation(
        () => files.mkdir(request.path, isEmptyAttrs(request.attrs) ? undefined : request.attrs),
        id,
      );
    case 'rename':
    case 'posix-rename': {
      const overwrite = request.kind === 'posix-rename';
      return mutation(() => files.rename(request.from, request.to, { overwrite }), id);
    }
    case 'symlink':
      return now(statusPacket(id, StatusCode.PERMISSION_DENIED, 'Sluice does not create symbolic links'));
    case 'hardlink':
      return now(statusPacket(id, StatusCode.OP_UNSUPPORTED, 'Sluice does not create hard links'));
    case 'limits':
      return now(
        limitsReplyPacket(id, {
          maxPacketLength: SFTP_LIMITS.maxPacketLength,
          maxReadLength: SFTP_LIMITS.maxReadLength,
          maxWriteLength: SFTP_LIMITS.maxWriteLength,
          maxOpenHandles: handles.limit,
        }),
      );
    case 'unsupported':
      return now(statusPacket(id, StatusCode.OP_UNSUPPORTED, `${request.what} is not supported`));
  }
}
