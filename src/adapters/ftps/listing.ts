/**
 * Listing formats: MLSD/MLST facts (RFC 3659: type, size, modify, unix.mode), LIST lines (the
 * core's `ls -l` longname, as SFTP shows) and NLST names; and the time format MDTM and the
 * `modify` fact share (YYYYMMDDHHMMSS, UTC).
 */
import type { DirectoryEntry, FileAttributes } from '../../application/files/file-session.js';

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

export function isDirectory(attrs: FileAttributes): boolean {
  return ((attrs.mode ?? 0) & S_IFMT) === S_IFDIR;
}

/** Seconds since the epoch as `YYYYMMDDHHMMSS` (UTC). */
export function ftpTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** The facts of one entry, followed by a space and its name (the `name` is the caller's). */
export function facts(attrs: FileAttributes, name: string): string {
  const mode = attrs.mode ?? 0;
  const type = isDirectory(attrs) ? 'dir' : (mode & S_IFMT) === S_IFLNK ? 'OS.unix=symlink' : 'file';
  const parts = [`type=${type}`];
  if (type === 'file') parts.push(`size=${attrs.size ?? 0}`);
  if (attrs.mtime !== undefined) parts.push(`modify=${ftpTime(attrs.mtime)}`);
  parts.push(`unix.mode=0${(mode & 0o777).toString(8)}`);
  return `${parts.join(';')}; ${name}`;
}

export type ListingFormat = 'MLSD' | 'LIST' | 'NLST';

/** Lines of one batch of entries in `format`, each ending with CRLF. */
export function listingLines(format: ListingFormat, entries: readonly DirectoryEntry[]): string {
  const line = (e: DirectoryEntry) =>
    format === 'MLSD' ? facts(e.attrs, e.name) : format === 'LIST' ? e.longname : e.name;
  return entries.map((e) => `${line(e).replace(/[\r\n]/g, ' ')}\r\n`).join('');
}
