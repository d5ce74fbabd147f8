/**
 * The defender's rules, pure: which failed sign-ins count as guessing, how long a failure is
 * held before its answer, and how long a ban lasts.
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
  /** Failures of a key within the window answered at once; each further one is held longer. */
  readonly delayFreeFailures: number;
  /** The first held failure's delay (0: none); each further one waits twice as long. */
  readonly delayMs: number;
  readonly maxDelayMs: number;
  /**
   * SignInFailed events recorded per minute for an unknown user name (across instances); the
   * failures past it are summed into SignInFailuresSummarized.
   */
  readonly maxUnknownUserEventsPerMinute: number;
}

/**
 * How long the `failures`-th failure of a key within the window is held before its answer
 * (and before the next attempt from its address is checked): 0 for the first
 * `delayFreeFailures`, then `delayMs`, doubling, capped at `maxDelayMs`.
 */
export function failureDelay(policy: DefenderPolicy, failures: number): number {
  const over = failures - policy.delayFreeFailures;
  if (over <= 0 || policy.delayMs === 0) return 0;
  return Math.min(policy.delayMs * 2 ** Math.min(over - 1, 30), policy.maxDelayMs);
}

/** The length of the `banNumber`-th ban of a key: doubling, capped. */
export function banLength(policy: DefenderPolicy, banNumber: number): number {
  return Math.min(policy.banMs * 2 ** Math.min(banNumber - 1, 30), policy.maxBanMs);
}
