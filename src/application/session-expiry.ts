/**
 * Ends immutable sessions 48 hours after they opened by recording SessionExpired. Sign-in
 * checks never depend on it (they compare the expiry time themselves); it makes the end a
 * fact in the log. Several processes may run it: the stream's revision lets one win.
 */
import { v7 as uuidv7 } from 'uuid';
import type { EventStore } from '../domain/event-store.js';
import { sessionDecider, sessionStream } from '../domain/sessions/session.js';
import { handleCommand } from './command-handler.js';
import type { Clock } from './ports.js';

export interface SessionExpiryDeps {
  readonly store: EventStore;
  readonly clock: Clock;
  /** Open sessions whose expiry time is at or before `now` (from the sessions view). */
  readonly dueSessions: (now: Date, limit: number) => Promise<string[]>;
  readonly onError?: (error: unknown) => void;
}

const BATCH = 500;

export class SessionExpiry {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(private readonly deps: SessionExpiryDeps) {}

  /** Expires every session that is due now; resolves with how many it expired. */
  async runOnce(): Promise<number> {
    const now = this.deps.clock.now();
    let expired = 0;
    for (;;) {
      const due = await this.deps.dueSessions(now, BATCH);
      let progressed = 0;
      for (const sessionId of due) {
        const result = await handleCommand(
          this.deps.store,
          sessionStream(sessionId),
          sessionDecider,
          { type: 'ExpireSession', sessionId, now },
          { envelopeVersion: 1, correlationId: uuidv7(), actor: {} },
        );
        if (result.append) progressed++;
      }
      expired += progressed;
      // The view lags the log: stop when a pass finds nothing it can still expire.
      if (due.length < BATCH || progressed === 0) return expired;
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
