/**
 * Virtual paths: what a client names, resolved in one place for every protocol. The result
 * is always absolute within the user's root ('/'): `..` cannot climb above it, text that is
 * not well-formed (NUL and other controls, lone surrogates: src/domain/text.ts) and overlong
 * names are refused, and nothing here touches the disk.
 */
import { firstIllFormed } from '../text.js';

export const MAX_PATH_BYTES = 4096;
export const MAX_NAME_BYTES = 255;

export class InvalidPath extends Error {
  override readonly name = 'InvalidPath';
  constructor(
    readonly reason: 'nul-byte' | 'ill-formed' | 'too-long' | 'name-too-long' | 'escapes-root' | 'empty',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Resolves `input` against `cwd` (itself a canonical virtual path) into a canonical absolute
 * virtual path: single slashes, no '.' or '..' segments, no trailing slash (except '/').
 */
export function resolveVirtualPath(input: string, cwd = '/'): string {
  if (input.includes('\0')) throw new InvalidPath('nul-byte', 'a path may not contain NUL bytes');
  const bad = firstIllFormed(input);
  if (bad !== undefined) {
    throw new InvalidPath(
      'ill-formed',
      `a path may not contain ${bad} (a control character or lone surrogate)`,
    );
  }
  if (Buffer.byteLength(input) > MAX_PATH_BYTES)
    throw new InvalidPath('too-long', `a path may have at most ${MAX_PATH_BYTES} bytes`);
  const base = input.startsWith('/') ? [] : cwd.split('/').filter(Boolean);
  const segments = [...base];
  for (const segment of input.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (segments.length === 0) throw new InvalidPath('escapes-root', 'the path climbs above the root');
      segments.pop();
      continue;
    }
    if (Buffer.byteLength(segment) > MAX_NAME_BYTES) {
      throw new InvalidPath('name-too-long', `a name may have at most ${MAX_NAME_BYTES} bytes`);
    }
    segments.push(segment);
  }
  const resolved = `/${segments.join('/')}`;
  if (Buffer.byteLength(resolved) > MAX_PATH_BYTES)
    throw new InvalidPath('too-long', `a path may have at most ${MAX_PATH_BYTES} bytes`);
  return resolved;
}

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Whether `path` is `prefix` or inside it (both canonical). */
export function isWithin(path: string, prefix: string): boolean {
  return prefix === '/' || path === prefix || path.startsWith(`${prefix}/`);
}
