/**
 * A delivery's id, derived from what caused it: the reaction (a flow, a notifier, the scan)
 * and the causing event (and, for a trigger's batch, the file). The same cause always gives
 * the same id, so a reaction that replays an event after a crash schedules nothing new, and
 * each effect can use the id as its idempotency key. A UUID of version 8 (RFC 9562's custom
 * layout) from SHA-256.
 */
import { createHash } from 'node:crypto';

export function deliveryIdOf(...parts: readonly string[]): string {
  const hex = createHash('sha256').update(parts.join('\n')).digest('hex');
  const variant = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
