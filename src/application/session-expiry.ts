/**
 * Ends sessions whose time is up by recording SessionExpired: immutable ones 48 hours after
 * they opened, replaceable ones at their configured lifetime or after their idle timeout
 * without use. Sign-in checks never depend on it (they compare the times themselves); it makes
 * the end a fact in the log. Several processes may run it: the stream's revision lets one win.
 */
import type { EventStore } from '../domain/event-store.js';
import { sessionDecider, sessionStream } from '../domain/sessions/session.js';
import { handleCommand } from './command-handler.js';
import { systemMetadata } from './metadata.js';
import type { Clock, IdGenerator, SessionTokens } from './ports.js';

export interface SessionExpiryDeps {
  readonly store: EventStore;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly tokens: SessionTokens;
  /** Open sessions whose expiry time is at or before `now` (from the sessions view). */
  readonly dueSessions: (now: Date, limit: number) => Promise<string[]>;
  readonly onError?: (error: unknown) => void;
}

const BATCH = 500;

/**
 * Records that a session's time is up, if it is (its lifetime, or its idle timeout counted from
 * `lastUsedAt`); true when this call recorded it.
 */
export async function recordExpiry(
  { store, ids }: { store: EventStore; ids: IdGenerator },
  sessionId: string,
  now: Date,
  lastUsedAt?: Date,
): Promise<boolean> {
  const result = await handleCommand(
    store,
    sessionStream(sessionId),
    sessionDecider,
    { type: 'ExpireSession', sessionId, now, ...(lastUsedAt ? { lastUsedAt } : {}) },
    systemMetadata(ids),
  );
  return result.append !== undefined;
}

export class SessionExpiry {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(private readonly deps: SessionExpiryDeps) {}

  /** Expires every session that is due now; resolves with how many it expired. */
  async runOnce(): Promise<number> {
    const now = this.deps.clock.now();
    return (await this.expireLifetimes(now)) + (await this.expireIdle(now));
  }

  private async expireLifetimes(now: Date): Promise<number> {
    let expired = 0;
    for (;;) {
      const due = await this.deps.dueSessions(now, BATCH);
      let progressed = 0;
      for (const sessionId of due) if (await recordExpiry(this.deps, sessionId, now)) progressed++;
      expired += progressed;
      // The view lags the log: stop when a pass finds nothing it can still expire.
      if (due.length < BATCH || progressed === 0) return expired;
    }
  }

  /**
   * Sessions gone idle: each is expired (or found ended otherwise: closed, replaced) and then
   * no longer followed, so every pass reads only new candidates.
   */
  private async expireIdle(now: Date): Promise<number> {
    let expired = 0;
    for (;;) {
      const due = await this.deps.tokens.idle(now, BATCH);
      for (const { sessionId, lastUsedAt } of due) {
        if (await recordExpiry(this.deps, sessionId, now, lastUsedAt)) expired++;
        await this.deps.tokens.settle(sessionId);
      }
      if (due.length < BATCH) return expired;
    }
  }

  start(intervalMs: number): void {
    const tick = () => {
      this.running ??= this.runOnce()
        .catch((error: unknown) => {
          this.deps.onError?.(error);
          return 0;
        })
        .finally(() => {
          this.running = undefined;
        });
    };
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
    tick();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
