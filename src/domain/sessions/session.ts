/**
 * One stream per session (`session-<uuid>`): opened, then at most one end (closed or expired).
 * Replacement is decided by the sign-in slot (slot.ts), not here.
 */
import { type Decider, DomainError } from '../decider.js';
import type { EventOfType } from '../events/catalogue.js';

export type SessionOpenedData = EventOfType<'SessionOpened'>['data'];
export type SessionKind = SessionOpenedData['kind'];
export type SessionEvent = EventOfType<
  'SessionOpened' | 'SessionReused' | 'SessionClosed' | 'SessionExpired'
>;
type ReusedData = EventOfType<'SessionReused'>['data'];

/** Immutable sessions end by themselves this long after they were opened. */
export const IMMUTABLE_SESSION_LIFETIME_MS = 48 * 60 * 60 * 1000;

export type SessionCommand =
  | { type: 'OpenSession'; session: SessionOpenedData }
  /** Another sign-in handed this (alive) session: recorded as such. */
  | { type: 'ReuseSession'; reuse: ReusedData; now: Date }
  | { type: 'CloseSession'; sessionId: string; by: number | null; reason: 'closed' | 'superseded'; now: Date }
  /** `lastUsedAt`: when its token was last used, for sessions with an idle timeout. */
  | { type: 'ExpireSession'; sessionId: string; now: Date; lastUsedAt?: Date };

export type SessionState =
  | { status: 'none' }
  | { status: 'open'; session: SessionOpenedData }
  | { status: 'closed'; session: SessionOpenedData; endedAt: string }
  | { status: 'expired'; session: SessionOpenedData; endedAt: string; cause: ExpiryCause };

export type ExpiryCause = 'lifetime' | 'idle';

export const sessionStream = (sessionId: string) => `session-${sessionId}`;

/**
 * Immutable sessions last 48 hours; replaceable ones until replaced, or for
 * `replaceableLifetimeMs` when the operator limits them (MFT_SESSION_LIFETIME_SECONDS).
 */
export function expiresAt(
  kind: SessionKind,
  openedAt: Date,
  replaceableLifetimeMs: number | null = null,
): string | null {
  const lifetime = kind === 'replaceable' ? replaceableLifetimeMs : IMMUTABLE_SESSION_LIFETIME_MS;
  return lifetime === null ? null : new Date(openedAt.getTime() + lifetime).toISOString();
}

export function isExpired(session: SessionOpenedData, now: Date): boolean {
  return session.expiresAt !== null && now.getTime() >= Date.parse(session.expiresAt);
}

/** When a session with an idle timeout, last used at `lastUsedAt`, goes idle; null: never. */
export function idleAt(session: SessionOpenedData, lastUsedAt: Date | undefined): Date | null {
  const timeout = session.idleTimeoutMs ?? null;
  return timeout === null || lastUsedAt === undefined ? null : new Date(lastUsedAt.getTime() + timeout);
}

export function isIdle(session: SessionOpenedData, lastUsedAt: Date | undefined, now: Date): boolean {
  const at = idleAt(session, lastUsedAt);
  return at !== null && now.getTime() >= at.getTime();
}

export const sessionDecider: Decider<SessionCommand, SessionEvent, SessionState> = {
  initialState: () => ({ status: 'none' }),
  decide(command, state) {
    switch (command.type) {
      case 'OpenSession':
        if (state.status !== 'none') throw new DomainError('session-exists', 'this session id is taken');
        return [{ type: 'SessionOpened', data: command.session }];
      case 'ReuseSession':
        if (state.status === 'none')
          throw new DomainError('session-unknown', `no session ${command.reuse.sessionId}`);
        if (state.status !== 'open' || isExpired(state.session, command.now))
          throw new DomainError('session-ended', `session ${command.reuse.sessionId} has already ended`);
        return [{ type: 'SessionReused', data: command.reuse }];
      case 'CloseSession': {
        if (state.status === 'none')
          throw new DomainError('session-unknown', `no session ${command.sessionId}`);
        if (state.status !== 'open' || isExpired(state.session, command.now)) {
          throw new DomainError('session-ended', `session ${command.sessionId} has already ended`, {
            status: state.status === 'open' ? 'expired' : state.status,
          });
        }
        return [
          {
            type: 'SessionClosed',
            data: {
              sessionId: command.sessionId,
              userId: state.session.userId,
              closedBy: command.by,
              reason: command.reason,
              closedAt: command.now.toISOString(),
            },
          },
        ];
      }
      case 'ExpireSession': {
        if (state.status !== 'open') return [];
        const { session } = state;
        // The moment it ran out, not the moment the scheduler noticed.
        const end = (expiredAt: string, cause: ExpiryCause): SessionEvent[] => [
          {
            type: 'SessionExpired',
            data: { sessionId: command.sessionId, userId: session.userId, expiredAt, cause },
          },
        ];
        if (isExpired(session, command.now))
          return end(session.expiresAt ?? command.now.toISOString(), 'lifetime');
        const idle = idleAt(session, command.lastUsedAt);
        if (idle !== null && command.now >= idle) return end(idle.toISOString(), 'idle');
        return [];
      }
      default: {
        const never: never = command;
        throw new Error(`unhandled command ${JSON.stringify(never)}`);
      }
    }
  },
  evolve(state, event) {
    switch (event.type) {
      case 'SessionOpened':
        return { status: 'open', session: event.data };
      case 'SessionClosed':
        return state.status === 'open'
          ? { status: 'closed', session: state.session, endedAt: event.data.closedAt }
          : state;
      case 'SessionExpired':
        return state.status === 'open'
          ? {
              status: 'expired',
              session: state.session,
              endedAt: event.data.expiredAt,
              cause: event.data.cause ?? 'lifetime',
            }
          : state;
      default:
        return state;
    }
  },
};
