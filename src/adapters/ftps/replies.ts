/**
 * FTP replies: one line (`550 text`) or several (`250-first … 250 last`, RFC 959 4.2), never
 * with a raw CR or LF inside a line; and the one function mapping the core's FileErrors to
 * FTP codes.
 */
import { FileError, type FileErrorCode } from '../../application/files/file-session.js';

function clean(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

export function reply(code: number, text: string): string {
  return `${code} ${clean(text)}\r\n`;
}

/** A multi-line reply: `lines` between the first and the last; each starts with a space (RFC 2389, 3659). */
export function multiline(code: number, first: string, lines: readonly string[], last: string): string {
  const body = lines.map((line) => ` ${clean(line)}\r\n`).join('');
  return `${code}-${clean(first)}\r\n${body}${code} ${clean(last)}\r\n`;
}

/** A path inside a 257 reply: quoted, its own quotes doubled (RFC 959 appendix II). */
export function quotedPath(path: string): string {
  return `"${path.replaceAll('"', '""')}"`;
}

const CODES: Record<FileErrorCode, number> = {
  'not-found': 550,
  'permission-denied': 550,
  'already-exists': 550,
  'not-a-directory': 550,
  'is-a-directory': 550,
  'not-empty': 550,
  'invalid-path': 553,
  'no-space': 452,
  'quota-exceeded': 552,
  'too-large': 552,
  unsupported: 504,
  'too-many-handles': 450,
  'digest-mismatch': 550,
  failure: 451,
};

/** The reply for an error from the core; anything else is a local error (logged by the caller). */
export function replyForError(error: unknown): string {
  if (error instanceof FileError) return reply(CODES[error.code], error.message);
  return reply(451, 'Local error: the operation did not complete');
}
