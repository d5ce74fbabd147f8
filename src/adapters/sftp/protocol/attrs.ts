/** SFTP v3 ATTRS: decoded into the core's `FileAttributes`, encoded from them. */
import type { FileAttributes } from '../../../application/files/file-session.js';
import { AttrFlag } from './constants.js';
import type { PacketReader } from './reader.js';
import type { PacketWriter } from './writer.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Reads ATTRS; extended attribute pairs are read (bounds-checked) and dropped. */
export function decodeAttrs(reader: PacketReader): FileAttributes {
  const flags = reader.u32('attribute flags');
  const attrs: Mutable<FileAttributes> = {};
  if (flags & AttrFlag.SIZE) attrs.size = reader.u64('size');
  if (flags & AttrFlag.UIDGID) {
    attrs.uid = reader.u32('uid');
    attrs.gid = reader.u32('gid');
  }
  if (flags & AttrFlag.PERMISSIONS) attrs.mode = reader.u32('permissions');
  if (flags & AttrFlag.ACMODTIME) {
    attrs.atime = reader.u32('atime');
    attrs.mtime = reader.u32('mtime');
  }
  if (flags & AttrFlag.EXTENDED) {
    const count = reader.u32('extended attribute count');
    for (let i = 0; i < count; i++) {
      reader.bytes('extended attribute type');
      reader.bytes('extended attribute data');
    }
  }
  return attrs;
}

/** True when no attribute is set (flags 0 on the wire). */
export function isEmptyAttrs(attrs: FileAttributes): boolean {
  return (
    attrs.size === undefined &&
    attrs.uid === undefined &&
    attrs.gid === undefined &&
    attrs.mode === undefined &&
    attrs.atime === undefined &&
    attrs.mtime === undefined
  );
}

/** Bytes `encodeAttrs` writes for these attributes. */
export function attrsLength(attrs: FileAttributes): number {
  let length = 4;
  if (attrs.size !== undefined) length += 8;
  if (attrs.uid !== undefined || attrs.gid !== undefined) length += 8;
  if (attrs.mode !== undefined) length += 4;
  if (attrs.atime !== undefined || attrs.mtime !== undefined) length += 8;
  return length;
}

export function encodeAttrs(writer: PacketWriter, attrs: FileAttributes): void {
  const hasIds = attrs.uid !== undefined || attrs.gid !== undefined;
  const hasTimes = attrs.atime !== undefined || attrs.mtime !== undefined;
  let flags = 0;
  if (attrs.size !== undefined) flags |= AttrFlag.SIZE;
  if (hasIds) flags |= AttrFlag.UIDGID;
  if (attrs.mode !== undefined) flags |= AttrFlag.PERMISSIONS;
  if (hasTimes) flags |= AttrFlag.ACMODTIME;
  writer.u32(flags);
  if (attrs.size !== undefined) writer.u64(attrs.size);
  if (hasIds) writer.u32(attrs.uid ?? 0).u32(attrs.gid ?? 0);
  if (attrs.mode !== undefined) writer.u32(attrs.mode);
  if (hasTimes) writer.u32(attrs.atime ?? attrs.mtime ?? 0).u32(attrs.mtime ?? attrs.atime ?? 0);
}
