/**
 * The changes a user makes to what is stored, other than uploads: delete, rename, mkdir, rmdir
 * and setstat. Each is made through an intent (src/application/files/file-intents.ts): noted,
 * made so that it can be undone, recorded, then finished. This is the one place their events
 * are built: the event that records a change done, and the one that records it undone.
 */
import { type Static, Type } from '@sinclair/typebox';
import type { EventOfType } from '../events/catalogue.js';
import { Protocol, VirtualPath } from '../events/file-events.js';

/** SFTP carries times as unsigned 32-bit seconds since the epoch. */
const Seconds = Type.Integer({ minimum: 0, maximum: 0xffff_ffff });
const closed = { additionalProperties: false } as const;

export const FileChangeSchema = Type.Union([
  Type.Object({ kind: Type.Literal('delete'), protocol: Protocol, path: VirtualPath }, closed),
  Type.Object(
    {
      kind: Type.Literal('rename'),
      protocol: Protocol,
      from: VirtualPath,
      to: VirtualPath,
      /** posix-rename (and HTTP moves with `overwrite`) may replace a file; SFTP RENAME never does. */
      overwrite: Type.Boolean(),
    },
    closed,
  ),
  Type.Object({ kind: Type.Literal('mkdir'), protocol: Protocol, path: VirtualPath }, closed),
  Type.Object({ kind: Type.Literal('rmdir'), protocol: Protocol, path: VirtualPath }, closed),
  Type.Object(
    {
      kind: Type.Literal('setstat'),
      protocol: Protocol,
      path: VirtualPath,
      atime: Seconds,
      mtime: Seconds,
      /** The times before, which an undo puts back. */
      previousAtime: Seconds,
      previousMtime: Seconds,
    },
    closed,
  ),
]);
export type FileChange = Static<typeof FileChangeSchema>;
export type FileChangeKind = FileChange['kind'];

/** What storage learnt while making a change: a deleted file's size, whether a rename replaced one. */
export interface ChangeFacts {
  readonly size: number | null;
  readonly overwrote: boolean;
}

export const NO_FACTS: ChangeFacts = { size: null, overwrote: false };

type DoneEvent = EventOfType<
  'FileDeleted' | 'FileRenamed' | 'DirectoryCreated' | 'DirectoryRemoved' | 'FileAttributesChanged'
>;

function isoSeconds(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

/** The event that records `change` done. */
export function changeDone(change: FileChange, facts: ChangeFacts): DoneEvent {
  const { protocol } = change;
  switch (change.kind) {
    case 'delete':
      return { type: 'FileDeleted', data: { protocol, path: change.path, size: facts.size } };
    case 'rename':
      return {
        type: 'FileRenamed',
        data: { protocol, from: change.from, to: change.to, overwrote: facts.overwrote },
      };
    case 'mkdir':
      return { type: 'DirectoryCreated', data: { protocol, path: change.path } };
    case 'rmdir':
      return { type: 'DirectoryRemoved', data: { protocol, path: change.path } };
    case 'setstat':
      return {
        type: 'FileAttributesChanged',
        data: {
          protocol,
          path: change.path,
          modifiedAt: isoSeconds(change.mtime),
          accessedAt: isoSeconds(change.atime),
        },
      };
    default: {
      const never: never = change;
      throw new Error(`unknown change ${JSON.stringify(never)}`);
    }
  }
}

/** The path a change is about (a rename's source). */
export function changedPath(change: FileChange): string {
  return change.kind === 'rename' ? change.from : change.path;
}

/** The event that records `change` undone, and why. */
export function changeUndone(change: FileChange, reason: string): EventOfType<'FileChangeUndone'> {
  return {
    type: 'FileChangeUndone',
    data: {
      protocol: change.protocol,
      operation: change.kind,
      path: changedPath(change),
      ...(change.kind === 'rename' ? { to: change.to } : {}),
      reason: reason.slice(0, 200),
    },
  };
}
