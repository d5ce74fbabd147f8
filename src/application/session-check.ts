/**
 * Whether a session may act now, and as whom: the one check every front end applies — to a
 * bearer token (HTTP), a session id (an SFTP connection's, an impersonating service's), or
 * before handing out a protocol session again. A token's use moves its idle deadline; a
 * session found idle has its end recorded here.
 */
import type { EventStore } from '../domain/event-store.js';
import { type Liveness, liveness } from '../domain/sessions/liveness.js';
import { sessionDecider, sessionStream } from '../domain/sessions/session.js';
import { slotDecider, slotStream } from '../domain/sessions/slot.js';
import type { UserState } from '../domain/users/user.js';
import { loadState } from './command-handler.js';
import type { Clock, IdGenerator, SessionTokens } from './ports.js';
import { recordExpiry } from './session-expiry.js';
import type { UserService } from './users.js';

export interface SessionCheck {
  readonly liveness: Liveness;
  readonly user: UserState;
}

export interface SessionChecksDeps {
  readonly store: EventStore;
  readonly users: UserService;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly tokens: SessionTokens;
}

const UNKNOWN: SessionCheck = { liveness: { alive: false, reason: 'unknown' }, user: { status: 'absent' } };

/**
 * A use is written at most every tenth of the idle timeout (and at least every minute): the
 * timeout then holds to within that tenth without a database write per request.
 */
function dueForTouch(idleTimeoutMs: number | null, lastUsedAt: Date | undefined, now: Date): boolean {
  if (idleTimeoutMs === null || lastUsedAt === undefined) return false;
  return now.getTime() - lastUsedAt.getTime() >= Math.min(idleTimeoutMs / 10, 60_000);
}

export class SessionChecks {
  constructor(private readonly deps: SessionChecksDeps) {}

  /** Whether a bearer token may act now, and as whom (an unknown token is an unknown session). */
  async authenticate(token: string): Promise<SessionCheck> {
    const use = await this.deps.tokens.resolve(token);
    if (use === undefined) return UNKNOWN;
    const result = await this.check(use.sessionId, use.lastUsedAt);
    const { liveness } = result;
    const now = this.deps.clock.now();
    if (!liveness.alive && liveness.reason === 'idle' && use.lastUsedAt !== undefined) {
      await recordExpiry(this.deps, use.sessionId, now, use.lastUsedAt);
      await this.deps.tokens.settle(use.sessionId);
    } else if (liveness.alive && dueForTouch(liveness.session.idleTimeoutMs ?? null, use.lastUsedAt, now)) {
      await this.deps.tokens.touch(token, now);
    }
    return result;
  }

  /** Whether a session id may act now, and as whom; `lastUsedAt` for sessions with an idle timeout. */
  async check(sessionId: string, lastUsedAt?: Date): Promise<SessionCheck> {
    const { state } = await loadState(this.deps.store, sessionStream(sessionId), sessionDecider);
    if (state.status === 'none') return UNKNOWN;
    const session = state.session;
    const slot =
      session.kind === 'replaceable'
        ? (
            await loadState(
              this.deps.store,
              slotStream('replaceable', session.userId, session.applicationId),
              slotDecider,
              'last',
            )
          ).state
        : undefined;
    const user = await this.deps.users.getUser(session.userId);
    return { liveness: liveness(state, slot, user, this.deps.clock.now(), lastUsedAt), user };
  }
}
