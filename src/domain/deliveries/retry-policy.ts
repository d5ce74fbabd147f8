/** Back-off between a delivery's attempts: doubling from `initialMs`, capped at `maxMs`. */
export interface RetryPolicy {
  /** Attempts before a retryable failure dead-letters the delivery. */
  readonly maxAttempts: number;
  readonly initialMs: number;
  readonly maxMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 8, initialMs: 5_000, maxMs: 15 * 60_000 };

/** When attempt `attempt + 1` is due, after attempt `attempt` failed at `now`. */
export function retryAt(policy: RetryPolicy, attempt: number, now: Date): Date {
  const delay = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, attempt - 1));
  return new Date(now.getTime() + delay);
}
