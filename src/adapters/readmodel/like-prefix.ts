/** `value%` for LIKE: what starts with `value`, LIKE's own characters in it (\ % _) escaped. */
export function likePrefix(value: string): string {
  return `${value.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
