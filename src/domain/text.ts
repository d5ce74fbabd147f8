/**
 * Well-formed text: the one rule for every string that crosses a boundary (HTTP bodies,
 * queries and paths, SSH idents and user names, SFTP file names) and every string an event
 * holds. A string is well-formed when it has no lone UTF-16 surrogate (PostgreSQL's jsonb and
 * UTF-8 cannot hold one) and no control character: C0 (NUL included), DEL, C1. Multi-line
 * text may also hold tab, line feed and carriage return.
 *
 * The rule is a regular expression that means the same with and without the `u` flag (ajv
 * compiles schema patterns with it, TypeBox without): a character is anything but a control
 * or a surrogate, or a high surrogate followed by a low one (an astral character, which
 * `u` mode sees as one code point outside the excluded ranges).
 */

const SURROGATE_PAIR = '[\\ud800-\\udbff][\\udc00-\\udfff]';
/** One character of single-line text. */
export const TEXT_CHAR = `(?:[^\\u0000-\\u001f\\u007f-\\u009f\\ud800-\\udfff]|${SURROGATE_PAIR})`;
/** One character of multi-line text: tab, line feed and carriage return allowed too. */
export const MULTILINE_CHAR = `(?:[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f\\ud800-\\udfff]|${SURROGATE_PAIR})`;
/** One character of a secret (a password): anything well-formed but NUL; it never enters an event. */
export const SECRET_CHAR = `(?:[^\\u0000\\ud800-\\udfff]|${SURROGATE_PAIR})`;
/** One character of a path segment: single-line text without '/'. */
export const SEGMENT_CHAR = `(?:[^/\\u0000-\\u001f\\u007f-\\u009f\\ud800-\\udfff]|${SURROGATE_PAIR})`;

/** Anchored patterns (JSON Schema `pattern` values). */
export const TEXT_PATTERN = `^${TEXT_CHAR}*$`;
export const MULTILINE_PATTERN = `^${MULTILINE_CHAR}*$`;
export const SECRET_PATTERN = `^${SECRET_CHAR}*$`;

const TEXT = new RegExp(TEXT_PATTERN);
const MULTILINE = new RegExp(MULTILINE_PATTERN);

/** Whether `value` is well-formed single-line text (or multi-line text, with `multiline`). */
export function isWellFormedText(value: string, options: { multiline?: boolean } = {}): boolean {
  return (options.multiline ? MULTILINE : TEXT).test(value);
}

/** The length in code points (as JSON Schema counts it): a surrogate pair counts one. */
export function codePointLength(value: string): number {
  let pairs = 0;
  for (let i = 0; i < value.length - 1; i++) {
    const code = value.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        pairs++;
        i++;
      }
    }
  }
  return value.length - pairs;
}

/** At most `max` code points of `value`, never cutting a surrogate pair in two. */
export function truncateText(value: string, max: number): string {
  if (value.length <= max) return value;
  let units = 0;
  let points = 0;
  while (units < value.length && points < max) {
    const code = value.charCodeAt(units);
    const next = value.charCodeAt(units + 1);
    units += code >= 0xd800 && code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff ? 2 : 1;
    points++;
  }
  return value.slice(0, units);
}

/** The first character that breaks the rule, named for an error message (e.g. "U+0000"), or undefined. */
export function firstIllFormed(value: string, options: { multiline?: boolean } = {}): string | undefined {
  const allowed = options.multiline ? MULTILINE : TEXT;
  if (allowed.test(value)) return undefined;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    const next = value.charCodeAt(i + 1);
    if (code >= 0xd800 && code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      i++;
      continue;
    }
    if (!allowed.test(value[i]!)) return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return undefined;
}

/**
 * A safe, readable form of untrusted text for the record: controls become `\xHH`, lone
 * surrogates `\uHHHH`, a backslash `\\` (so the form is unambiguous). The result is
 * well-formed single-line text of at most `maxLength` UTF-16 units, cut between characters
 * (never inside an escape or a surrogate pair).
 */
export function escapeText(value: string, maxLength: number): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    let piece: string;
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        piece = value.slice(i, i + 2);
        i++;
      } else piece = `\\u${code.toString(16).padStart(4, '0')}`;
    } else if (code >= 0xdc00 && code <= 0xdfff) piece = `\\u${code.toString(16).padStart(4, '0')}`;
    else if (code < 0x20 || (code >= 0x7f && code <= 0x9f))
      piece = `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code === 0x5c) piece = '\\\\';
    else piece = value[i]!;
    if (out.length + piece.length > maxLength) break;
    out += piece;
  }
  return out;
}
