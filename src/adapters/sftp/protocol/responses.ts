/** Builders for server packets, each returning the complete packet(s) including the length field. */
import type {
  DirectoryEntry,
  FileAttributes,
  FileSystemStats,
} from '../../../application/files/file-session.js';
import { attrsLength, encodeAttrs } from './attrs.js';
import { PacketType, SFTP_VERSION, type StatusCode } from './constants.js';
import { PacketWriter } from './writer.js';

/** One packet, or a packet in parts written back to back. */
export type Reply = Buffer | Buffer[];

/** Payloads up to this size are copied into the DATA packet; larger ones are sent as a second buffer. */
const DATA_COPY_THRESHOLD = 16 * 1024;

export function versionPacket(extensions: ReadonlyArray<readonly [string, string]>): Buffer {
  const writer = new PacketWriter(PacketType.VERSION, 256).u32(SFTP_VERSION);
  for (const [name, data] of extensions) writer.string(name).string(data);
  return writer.finish();
}

export function statusPacket(id: number, code: StatusCode, message: string, language = 'en'): Buffer {
  return new PacketWriter(PacketType.STATUS, 16 + Buffer.byteLength(message) + language.length)
    .u32(id)
    .u32(code)
    .string(message)
    .string(language)
    .finish();
}

export function handlePacket(id: number, handle: Buffer): Buffer {
  return new PacketWriter(PacketType.HANDLE, 8 + handle.length).u32(id).bytes(handle).finish();
}

/**
 * DATA: small payloads in one buffer; large ones as a 13-byte header plus the payload itself,
 * so the payload is not copied on its way to the channel.
 */
export function dataPacket(id: number, data: Buffer): Buffer[] {
  if (data.length <= DATA_COPY_THRESHOLD) {
    return [new PacketWriter(PacketType.DATA, 8 + data.length).u32(id).bytes(data).finish()];
  }
  const header = Buffer.allocUnsafe(13);
  header.writeUInt32BE(9 + data.length, 0);
  header[4] = PacketType.DATA;
  header.writeUInt32BE(id, 5);
  header.writeUInt32BE(data.length, 9);
  return [header, data];
}

/** Bytes one NAME entry adds to a packet. */
export function nameEntryLength(entry: DirectoryEntry): number {
  return 8 + Buffer.byteLength(entry.name) + Buffer.byteLength(entry.longname) + attrsLength(entry.attrs);
}

export function namePacket(id: number, entries: readonly DirectoryEntry[]): Buffer {
  let size = 8;
  for (const entry of entries) size += nameEntryLength(entry);
  const writer = new PacketWriter(PacketType.NAME, size).u32(id).u32(entries.length);
  for (const entry of entries) {
    writer.string(entry.name).string(entry.longname);
    encodeAttrs(writer, entry.attrs);
  }
  return writer.finish();
}

export function attrsPacket(id: number, attrs: FileAttributes): Buffer {
  const writer = new PacketWriter(PacketType.ATTRS, 4 + attrsLength(attrs)).u32(id);
  encodeAttrs(writer, attrs);
  return writer.finish();
}

/** `statvfs@openssh.com` / `fstatvfs@openssh.com` reply: eleven uint64s, as struct statvfs. */
export function statvfsReplyPacket(id: number, stats: FileSystemStats): Buffer {
  const ST_NOSUID = 0x2;
  return new PacketWriter(PacketType.EXTENDED_REPLY, 4 + 11 * 8)
    .u32(id)
    .u64(stats.blockSize) // f_bsize
    .u64(stats.blockSize) // f_frsize
    .u64(stats.blocks)
    .u64(stats.freeBlocks)
    .u64(stats.availableBlocks)
    .u64(stats.files)
    .u64(stats.freeFiles)
    .u64(stats.freeFiles) // f_favail
    .u64(0) // f_fsid
    .u64(ST_NOSUID) // f_flag
    .u64(stats.maxNameLength)
    .finish();
}

export interface LimitsReply {
  readonly maxPacketLength: number;
  readonly maxReadLength: number;
  readonly maxWriteLength: number;
  readonly maxOpenHandles: number;
}

/** `limits@openssh.com` reply: four uint64s. */
export function limitsReplyPacket(id: number, limits: LimitsReply): Buffer {
  return new PacketWriter(PacketType.EXTENDED_REPLY, 4 + 4 * 8)
    .u32(id)
    .u64(limits.maxPacketLength)
    .u64(limits.maxReadLength)
    .u64(limits.maxWriteLength)
    .u64(limits.maxOpenHandles)
    .finish();
}
