/**
 * The webhook signature scheme (docs/notifications.md), in one place for the sender, the
 * docs and the tests. Header `Sluice-Signature: t=<unix seconds>,v1=<hex>` where `<hex>` is
 * HMAC-SHA256 keyed with the shared secret over `<t>.<raw body>` (the timestamp's decimal
 * digits, a full stop, then the body's bytes exactly as sent). Signing the timestamp with the
 * body lets a receiver refuse a replay: it checks the MAC, then that `t` is within its
 * tolerance (5 minutes) of its own clock. A header may carry several `v1=` entries (one per
 * secret while a secret is being rotated); one valid entry is enough.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'Sluice-Signature';
export const DEFAULT_TOLERANCE_SECONDS = 300;

function mac(secret: string, timestamp: number, rawBody: string | Buffer): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest();
}

/** The `Sluice-Signature` value for `rawBody` sent at `timestamp` (unix seconds). */
export function signWebhook(secret: string, timestamp: number, rawBody: string | Buffer): string {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new RangeError(`a signature timestamp is whole unix seconds, not ${timestamp}`);
  }
  return `t=${timestamp},v1=${mac(secret, timestamp, rawBody).toString('hex')}`;
}

export type SignatureCheck =
  | { ok: true; timestamp: number }
  | { ok: false; reason: 'malformed' | 'mismatch' | 'too-old' | 'in-future' };

/**
 * Checks a `Sluice-Signature` header against `rawBody` as a receiver should: the MAC first
 * (compared in constant time), then the timestamp within `toleranceSeconds` of `now` either
 * way (a clock a little ahead of the receiver's is tolerated as much as one behind).
 */
export function verifySignature(
  secret: string,
  header: string,
  rawBody: string | Buffer,
  now: Date,
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
): SignatureCheck {
  let timestamp: number | undefined;
  const candidates: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) return { ok: false, reason: 'malformed' };
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't' && /^\d{1,15}$/.test(value) && timestamp === undefined) timestamp = Number(value);
    else if (key === 'v1' && /^[0-9a-f]{64}$/.test(value)) candidates.push(Buffer.from(value, 'hex'));
    else if (key === 't') return { ok: false, reason: 'malformed' };
  }
  if (timestamp === undefined || candidates.length === 0) return { ok: false, reason: 'malformed' };
  const expected = mac(secret, timestamp, rawBody);
  if (!candidates.some((candidate) => timingSafeEqual(candidate, expected))) {
    return { ok: false, reason: 'mismatch' };
  }
  const age = Math.floor(now.getTime() / 1000) - timestamp;
  if (age > toleranceSeconds) return { ok: false, reason: 'too-old' };
  if (age < -toleranceSeconds) return { ok: false, reason: 'in-future' };
  return { ok: true, timestamp };
}
