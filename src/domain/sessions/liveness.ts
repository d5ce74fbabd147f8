/**
 * Whether a session may act: the one rule every front end applies to a bearer session id,
 * an SFTP connection's session or an impersonating service session.
 */
import type { UserState } from '../users/user.js';
import { isExpired, isIdle, type SessionOpenedData, type SessionState } from './session.js';
import type { SlotState } from './slot.js';

export type SessionEndReason =
  | 'unknown'
  | 'closed'
  | 'expired'
  | 'idle'
  | 'replaced'
  | 'user-disabled'
  | 'user-deleted'
  | 'credentials-changed';

export type Liveness =
  | { alive: true; session: SessionOpenedData }
  | { alive: false; reason: SessionEndReason; session?: SessionOpenedData };

export function liveness(
  state: SessionState,
  /** The replaceable slot's state; required for replaceable sessions. */
  slot: SlotState | undefined,
  user: UserState,
  now: Date,
  /** When the session's token was last used (sessions with an idle timeout). */
  lastUsedAt?: Date,
): Liveness {
  if (state.status === 'none') return { alive: false, reason: 'unknown' };
  const session = state.session;
  if (state.status === 'closed') return { alive: false, reason: 'closed', session };
  if (state.status === 'expired')
    return { alive: false, reason: state.cause === 'idle' ? 'idle' : 'expired', session };
  if (isExpired(session, now)) return { alive: false, reason: 'expired', session };
  if (isIdle(session, lastUsedAt, now)) return { alive: false, reason: 'idle', session };
  if (session.kind === 'replaceable' && slot?.holder !== session.sessionId) {
    return { alive: false, reason: 'replaced', session };
  }
  if (user.status !== 'active') return { alive: false, reason: 'user-deleted', session };
  if (!user.enabled) return { alive: false, reason: 'user-disabled', session };
  // A password change ends every session opened before it (whatever way they signed in).
  if (session.credentialVersion !== undefined && session.credentialVersion !== user.credentialVersion)
    return { alive: false, reason: 'credentials-changed', session };
  return { alive: true, session };
}
