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
  | { type: 'ExpireSession'; sessionId: string; now: Date };

export type SessionState =
  | { status: 'none' }
  | { status: 'open'; session: SessionOpenedData }
  | { status: 'closed' | 'expired'; session: SessionOpenedData; endedAt: string };

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
      case 'ExpireSession':
        if (state.status !== 'open' || !isExpired(state.session, command.now)) return [];
        return [
          {
            type: 'SessionExpired',
            data: {
              sessionId: command.sessionId,
              userId: state.session.userId,
              // The moment it ran out, not the moment the scheduler noticed.
              expiredAt: state.session.expiresAt ?? command.now.toISOString(),
            },
          },
        ];
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
          ? { status: 'expired', session: state.session, endedAt: event.data.expiredAt }
          : state;
      default:
        return state;
    }
  },
};
