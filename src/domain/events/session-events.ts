/**
 * Sessions and sign-ins. Tickets and passwords never enter an event; a redeemed ticket is
 * known only by its SHA-256 digest.
 */
import { Type } from '@sinclair/typebox';
import {
  ApplicationId,
  eventSchema,
  FreeText,
  IpAddress,
  Text,
  Timestamp,
  UserId,
  Uuid,
} from './schema-helpers.js';

export const SessionKind = Type.Union([
  Type.Literal('replaceable'),
  Type.Literal('immutable'),
  Type.Literal('impersonated'),
  Type.Literal('user-string'),
]);

export const SignInMethod = Type.Union([
  Type.Literal('password'),
  Type.Literal('ticket'),
  Type.Literal('ticket-ex'),
  Type.Literal('impersonation'),
  Type.Literal('public-key'),
]);

export const SessionOpened = eventSchema('SessionOpened', {
  sessionId: Uuid,
  userId: UserId,
  applicationId: ApplicationId,
  kind: SessionKind,
  method: SignInMethod,
  clientVersion: Type.Union([Text(100), Type.Null()]),
  /** The end user's address: the connection's, or the one a service session vouches for. */
  clientIp: IpAddress,
  /** The address of the connection that asked (the service for impersonation). */
  callerIp: IpAddress,
  userString: Type.Union([FreeText(255, 1), Type.Null()]),
  impersonator: Type.Union([
    Type.Object({ userId: UserId, sessionId: Uuid }, { additionalProperties: false }),
    Type.Null(),
  ]),
  openedAt: Timestamp,
  /** Immutable sessions (and replaceable ones with a configured lifetime) end by themselves at this time. */
  expiresAt: Type.Union([Timestamp, Type.Null()]),
  /**
   * The user's password version when the session opened: a later password change ends it.
   * Absent in sessions recorded before it was kept.
   */
  credentialVersion: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
  /**
   * Replaceable sessions unused this long end (MFT_SESSION_IDLE_SECONDS). Absent or null: no
   * idle limit (immutable sessions, and sessions recorded before it was kept).
   */
  idleTimeoutMs: Type.Optional(Type.Union([Type.Integer({ minimum: 1000 }), Type.Null()])),
});

/** A sign-in slot (one per user and application) names the session that holds it. */
export const SessionSlotClaimed = eventSchema('SessionSlotClaimed', {
  slot: Type.Union([Type.Literal('replaceable'), Type.Literal('protocol')]),
  userId: UserId,
  applicationId: ApplicationId,
  sessionId: Uuid,
  previousSessionId: Type.Union([Uuid, Type.Null()]),
});

export const SessionReplaced = eventSchema('SessionReplaced', {
  sessionId: Uuid,
  userId: UserId,
  applicationId: ApplicationId,
  replacedBy: Uuid,
});

export const SessionClosed = eventSchema('SessionClosed', {
  sessionId: Uuid,
  userId: UserId,
  /** Who closed it: the session itself, an admin, or Sluice (superseded by a concurrent sign-in). */
  closedBy: Type.Union([UserId, Type.Null()]),
  reason: Type.Union([Type.Literal('closed'), Type.Literal('superseded')]),
  closedAt: Timestamp,
});

/**
 * A sign-in that was handed a session already alive (OpenImmutable on SFTP or FTPS returns the
 * user's protocol session): recorded like an opening, so no sign-in goes unrecorded.
 */
export const SessionReused = eventSchema('SessionReused', {
  sessionId: Uuid,
  userId: UserId,
  applicationId: ApplicationId,
  method: SignInMethod,
  clientVersion: Type.Union([Text(100), Type.Null()]),
  clientIp: IpAddress,
  at: Timestamp,
});

export const SessionExpired = eventSchema('SessionExpired', {
  sessionId: Uuid,
  userId: UserId,
  expiredAt: Timestamp,
  /** Its lifetime ran out, or it went unused for its idle timeout. Absent in older events: lifetime. */
  cause: Type.Optional(Type.Union([Type.Literal('lifetime'), Type.Literal('idle')])),
});

export const SignInFailureReason = Type.Union([
  Type.Literal('invalid-credentials'),
  Type.Literal('unknown-user'),
  Type.Literal('user-disabled'),
  Type.Literal('unknown-application'),
  Type.Literal('application-disabled'),
  Type.Literal('ticket-malformed'),
  Type.Literal('ticket-wrong-key'),
  Type.Literal('ticket-expired'),
  Type.Literal('ticket-replayed'),
  Type.Literal('ticket-wrong-site'),
  Type.Literal('service-session-invalid'),
  Type.Literal('missing-right'),
  /** Impersonation of a user holding admin, auditor or impersonate. */
  Type.Literal('target-privileged'),
  /** Impersonation into an application other than the service session's own. */
  Type.Literal('application-not-allowed'),
  /** Ticket sign-in of a user holding admin, auditor or impersonate. */
  Type.Literal('privileged-user'),
  /** The ticket was minted for another application, or the call's e-mail or names differ from it. */
  Type.Literal('ticket-mismatch'),
  /** The address or user name is banned by the defender: never recorded one by one (SignInAttemptsRefused). */
  Type.Literal('banned'),
]);

export const SignInFailed = eventSchema('SignInFailed', {
  method: SignInMethod,
  reason: SignInFailureReason,
  applicationId: Type.Union([ApplicationId, Type.Null()]),
  /** What the caller claimed to be, when it said (never a password or a ticket). */
  userName: Type.Union([Text(254), Type.Null()]),
  userId: Type.Union([UserId, Type.Null()]),
  clientIp: IpAddress,
  clientVersion: Type.Union([Text(100), Type.Null()]),
  at: Timestamp,
});

export const TicketRedeemed = eventSchema('TicketRedeemed', {
  /** SHA-256 of the ticket, hex: enough to refuse a replay, useless to sign in. */
  ticketDigest: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  applicationId: ApplicationId,
  /** Null when OpenWithTicketEx creates the user after redeeming the ticket. */
  userId: Type.Union([UserId, Type.Null()]),
});

/** One stream per failed sign-in (they share no invariant). */
export const signInFailureStream = (failureId: string) => `signin-failure-${failureId}`;

/** A redeemed ticket's stream, by the ticket's digest: it can be created once, so a ticket is accepted once. */
export const ticketStream = (ticketDigest: string) => `ticket-${ticketDigest}`;
