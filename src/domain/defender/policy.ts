/**
 * The defender's rules, pure: which failed sign-ins count as guessing, and how long a ban lasts.
 * Counting and storage are the adapter's (shared by every instance through PostgreSQL).
 */
import type { EventOfType } from '../events/catalogue.js';

type Reason = EventOfType<'SignInFailed'>['data']['reason'];

/** Failures that say someone is guessing a secret (not, say, a disabled application). */
const GUESSING: ReadonlySet<Reason> = new Set<Reason>([
  'invalid-credentials',
  'unknown-user',
  'ticket-malformed',
  'ticket-wrong-key',
  'service-session-invalid',
]);

export const countsAsGuessing = (reason: Reason): boolean => GUESSING.has(reason);

export interface DefenderPolicy {
  /** Failures from one address within `windowMs` that ban it. */
  readonly maxFailuresPerAddress: number;
  /** Failures against one user name (from anywhere) within `windowMs` that ban the name. */
  readonly maxFailuresPerUser: number;
  readonly windowMs: number;
  /** The first ban's length; each later ban of the same key lasts twice the one before. */
  readonly banMs: number;
  readonly maxBanMs: number;
  /** Addresses or CIDR ranges never banned. */
  readonly allowList: readonly string[];
}

/** The length of the `banNumber`-th ban of a key: doubling, capped. */
export function banLength(policy: DefenderPolicy, banNumber: number): number {
  return Math.min(policy.banMs * 2 ** Math.min(banNumber - 1, 30), policy.maxBanMs);
}
