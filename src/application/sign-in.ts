/**
 * The seven session calls (Open, OpenWithTicket, OpenWithTicketEx, OpenImmutable,
 * OpenImmutableImpersonate, OpenImmutableUserString, Close) and the one liveness check every
 * front end applies to a session id. Every failed sign-in is recorded, without its secret.
 */
import { isProtocolApplication } from '../domain/applications/built-in.js';
import { DomainError } from '../domain/decider.js';
import type { EventStore } from '../domain/event-store.js';
import { WrongExpectedRevision } from '../domain/event-store.js';
import { type EventOfType, toNewEvent } from '../domain/events/catalogue.js';
import { type Liveness, liveness } from '../domain/sessions/liveness.js';
import {
  expiresAt,
  type SessionKind,
  type SessionOpenedData,
  sessionDecider,
  sessionStream,
} from '../domain/sessions/session.js';
import { type SlotKind, slotDecider, slotStream } from '../domain/sessions/slot.js';
import { type TicketClaims, type TicketPolicy, ticketRejection } from '../domain/sessions/ticket-rules.js';
import { foldCase } from '../domain/users/reservation.js';
import { isPrivileged, type UserState } from '../domain/users/user.js';
import { requireValidUserName } from '../domain/users/user-name.js';
import type { ApplicationService } from './applications.js';
import { handleCommand, loadState } from './command-handler.js';
import type { SignInDefender } from './defender.js';
import { metadataFor } from './metadata.js';
import type { Clock, IdGenerator, RequestContext, SessionTokens } from './ports.js';
import { recordExpiry } from './session-expiry.js';
import type { ActiveUser, UserService } from './users.js';

export type SignInFailureReason = EventOfType<'SignInFailed'>['data']['reason'];
type SignInMethod = SessionOpenedData['method'];

/** A refused sign-in (already recorded as SignInFailed). */
export class SignInRefused extends Error {
  override readonly name: string = 'SignInRefused';
  constructor(readonly reason: SignInFailureReason) {
    super(`sign-in refused: ${reason}`);
  }
}

/** Refused unheard because the defender bans the address or user name (counted, not recorded). */
export class SignInThrottled extends SignInRefused {
  override readonly name = 'SignInThrottled';
  constructor(readonly until: Date) {
    super('banned');
  }
}

export interface TicketOpener {
  /** Decrypts and parses; throws an error with `reason` 'ticket-malformed' or 'ticket-wrong-key'. */
  open(ticket: string): TicketClaims;
  digest(ticket: string): string;
}

export interface SignInDeps {
  readonly store: EventStore;
  readonly users: UserService;
  readonly applications: ApplicationService;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly tokens: SessionTokens;
  readonly defender: SignInDefender;
  /** Absent when MFT_TICKET_SECRET is not set: ticket calls are then refused as malformed. */
  readonly tickets: TicketOpener | undefined;
  readonly ticketPolicy: TicketPolicy;
  /** Lifetime of replaceable sessions; null: until replaced or closed. */
  readonly replaceableLifetimeMs: number | null;
  /** Replaceable sessions unused this long end; null: no idle limit. */
  readonly replaceableIdleMs: number | null;
}

export interface Opened {
  /** The public id: in events, views and audit rows. */
  readonly sessionId: string;
  /** The secret bearer token, returned only here; null when the caller asked for none (SSH). */
  readonly token: string | null;
  readonly userId: number;
  /** Global position of the last event the call appended (for read-your-writes). */
  readonly position: number;
  /** False when OpenImmutable returned the alive session of a protocol. */
  readonly created: boolean;
}

export interface Attempt {
  readonly method: SignInMethod;
  readonly applicationId: number | null;
  readonly userName: string | null;
  readonly userId: number | null;
  readonly clientVersion: string | null;
  readonly context: RequestContext;
}

export interface PasswordSignIn {
  readonly userName: string;
  readonly password: string;
  readonly applicationId: number;
  readonly clientVersion: string | null;
}

export interface ServiceSignIn {
  /** The service session's bearer token. */
  readonly serviceToken: string;
  readonly userId: number;
  readonly applicationId: number;
  /** The end user's address, vouched for by the service. */
  readonly ipAddress: string;
}

export interface SessionCheck {
  readonly liveness: Liveness;
  readonly user: UserState;
}

/**
 * A use is written at most every tenth of the idle timeout (and at least every minute): the
 * timeout then holds to within that tenth without a database write per request.
 */
function dueForTouch(idleTimeoutMs: number | null, lastUsedAt: Date | undefined, now: Date): boolean {
  if (idleTimeoutMs === null || lastUsedAt === undefined) return false;
  return now.getTime() - lastUsedAt.getTime() >= Math.min(idleTimeoutMs / 10, 60_000);
}

function ticketReason(error: unknown): SignInFailureReason {
  const reason = (error as { reason?: unknown }).reason;
  return reason === 'ticket-wrong-key' ? 'ticket-wrong-key' : 'ticket-malformed';
}

export class SignInService {
  constructor(private readonly deps: SignInDeps) {}

  // ── the seven calls ────────────────────────────────────────────────────────

  async open(input: PasswordSignIn, context: RequestContext): Promise<Opened> {
    const attempt = this.attempt('password', input, context);
    await this.begin(attempt);
    const user = await this.passwordUser(input, attempt);
    return this.openReplaceable(user, input.applicationId, 'password', input.clientVersion, context);
  }

  async openWithTicket(
    input: { ticket: string; applicationId: number; clientVersion: string | null },
    context: RequestContext,
  ): Promise<Opened> {
    const attempt: Attempt = {
      method: 'ticket',
      applicationId: input.applicationId,
      userName: null,
      userId: null,
      clientVersion: input.clientVersion,
      context,
    };
    await this.begin(attempt);
    const claims = await this.openTicket(input.ticket, attempt);
    if (claims.subject.kind !== 'user') return this.refuse('ticket-mismatch', attempt);
    const named = { ...attempt, userName: claims.subject.userName };
    if (claims.applicationId !== input.applicationId) return this.refuse('ticket-mismatch', named);
    const userId = await this.deps.users.findUserId('userName', claims.subject.userName);
    const user = userId === null ? undefined : await this.deps.users.getUser(userId);
    if (user?.status !== 'active') return this.refuse('unknown-user', named);
    if (!user.enabled) return this.refuse('user-disabled', { ...named, userId: user.userId });
    if (isPrivileged(user)) return this.refuse('privileged-user', { ...named, userId: user.userId });
    await this.redeem(input.ticket, input.applicationId, user.userId, { ...named, userId: user.userId });
    return this.openReplaceable(user, input.applicationId, 'ticket', input.clientVersion, context);
  }

  async openWithTicketEx(
    input: {
      ticket: string;
      emailAddress: string;
      firstName: string;
      lastName: string;
      applicationId: number;
      clientVersion: string | null;
    },
    context: RequestContext,
  ): Promise<Opened> {
    const attempt: Attempt = {
      method: 'ticket-ex',
      applicationId: input.applicationId,
      userName: input.emailAddress,
      userId: null,
      clientVersion: input.clientVersion,
      context,
    };
    await this.begin(attempt);
    const claims = await this.openTicket(input.ticket, attempt);
    // Everything the call says must be what the integrator sealed in the ticket.
    const subject = claims.subject;
    if (
      subject.kind !== 'email' ||
      claims.applicationId !== input.applicationId ||
      foldCase(subject.emailAddress) !== foldCase(input.emailAddress) ||
      subject.firstName !== input.firstName ||
      subject.lastName !== input.lastName
    ) {
      return this.refuse('ticket-mismatch', attempt);
    }
    const existingId = await this.deps.users.findUserId('emailAddress', input.emailAddress);
    let user = existingId === null ? undefined : await this.deps.users.getUser(existingId);
    if (user?.status === 'active' && !user.enabled)
      return this.refuse('user-disabled', { ...attempt, userId: user.userId });
    if (user?.status === 'active' && isPrivileged(user))
      return this.refuse('privileged-user', { ...attempt, userId: user.userId });
    // A user it would create must have a valid name before the ticket is spent (400, nothing changed).
    if (user?.status !== 'active') requireValidUserName(input.emailAddress);
    // The ticket is spent before anything is created with it.
    await this.redeem(
      input.ticket,
      input.applicationId,
      user?.status === 'active' ? user.userId : null,
      attempt,
    );
    if (user?.status !== 'active') {
      const created = await this.deps.users.createUser(
        {
          userName: input.emailAddress,
          emailAddress: input.emailAddress,
          firstName: input.firstName,
          lastName: input.lastName,
          password: null,
          rights: [],
          permissions: [],
          keys: [],
        },
        { kind: 'ticket', applicationId: input.applicationId },
        metadataFor(context, { applicationId: input.applicationId }),
      );
      user = created.user;
    }
    return this.openReplaceable(
      user as ActiveUser,
      input.applicationId,
      'ticket-ex',
      input.clientVersion,
      context,
    );
  }

  /** `token: false` for a front end that needs no bearer token (an SSH connection). */
  async openImmutable(
    input: PasswordSignIn,
    context: RequestContext,
    options: { token: boolean } = { token: true },
  ): Promise<Opened> {
    const attempt = this.attempt('password', input, context);
    await this.begin(attempt);
    const user = await this.passwordUser(input, attempt);
    const session = this.newSession(
      user,
      input.applicationId,
      'immutable',
      'password',
      input.clientVersion,
      context,
    );
    if (isProtocolApplication(input.applicationId))
      return this.openForProtocol(session, context, options.token);
    return this.openImmutableSession(session, context, options.token);
  }

  /**
   * An SSH sign-in by public key (the transport has verified the signature): OpenImmutable
   * semantics for the protocol's application id, method `public-key`.
   */
  async openImmutableWithKey(
    input: { userName: string; fingerprint: string; applicationId: number; clientVersion: string | null },
    context: RequestContext,
  ): Promise<Opened> {
    const attempt: Attempt = {
      method: 'public-key',
      applicationId: input.applicationId,
      userName: input.userName,
      userId: null,
      clientVersion: input.clientVersion,
      context,
    };
    await this.begin(attempt);
    const user = await this.keyUser(input.userName, input.fingerprint, attempt);
    const session = this.newSession(
      user,
      input.applicationId,
      'immutable',
      'public-key',
      input.clientVersion,
      context,
    );
    if (isProtocolApplication(input.applicationId)) return this.openForProtocol(session, context, false);
    return this.openImmutableSession(session, context, false);
  }

  /** The user whose keys include `fingerprint`, or a recorded refusal. */
  async keyUser(userName: string, fingerprint: string, attempt: Attempt): Promise<ActiveUser> {
    const userId = await this.deps.users.findUserId('userName', userName);
    const user = userId === null ? undefined : await this.deps.users.getUser(userId);
    if (user?.status !== 'active') return this.refuse('unknown-user', attempt);
    const known = { ...attempt, userId: user.userId };
    if (!user.keys.some((k) => k.fingerprint === fingerprint))
      return this.refuse('invalid-credentials', known);
    if (!user.enabled) return this.refuse('user-disabled', known);
    return user;
  }

  async openImmutableImpersonate(input: ServiceSignIn, context: RequestContext): Promise<Opened> {
    return this.openForService(input, 'impersonated', null, context);
  }

  async openImmutableUserString(
    input: (ServiceSignIn | PasswordSignIn) & { userString: string },
    context: RequestContext,
  ): Promise<Opened> {
    if ('serviceToken' in input) return this.openForService(input, 'user-string', input.userString, context);
    const attempt = this.attempt('password', input, context);
    await this.begin(attempt);
    const user = await this.passwordUser(input, attempt);
    const session = this.newSession(
      user,
      input.applicationId,
      'user-string',
      'password',
      input.clientVersion,
      context,
    );
    return this.openImmutableSession({ ...session, userString: input.userString }, context, true);
  }

  /**
   * Close: ends the session (404 unknown, 409 already ended). Only the session itself (its
   * token) or an admin may close it; anyone else is refused before anything is read.
   */
  async close(
    sessionId: string,
    context: RequestContext,
    closer: { readonly sessionId: string; readonly admin: boolean },
  ): Promise<{ position: number }> {
    if (closer.sessionId !== sessionId && !closer.admin) {
      throw new DomainError('close-forbidden', 'Only the session itself or an admin may close a session');
    }
    const result = await handleCommand(
      this.deps.store,
      sessionStream(sessionId),
      sessionDecider,
      (state) => ({
        type: 'CloseSession' as const,
        sessionId,
        by: context.actor?.userId ?? (state.status === 'none' ? null : state.session.userId),
        reason: 'closed' as const,
        now: this.deps.clock.now(),
      }),
      metadataFor(context, {}),
    );
    return { position: result.append?.lastPosition ?? 0 };
  }

  /**
   * Whether a bearer token may act now, and as whom (an unknown token is an unknown session).
   * A use moves the session's idle deadline; a session found idle has its end recorded here.
   */
  async authenticate(token: string): Promise<SessionCheck> {
    const use = await this.deps.tokens.resolve(token);
    if (use === undefined)
      return { liveness: { alive: false, reason: 'unknown' }, user: { status: 'absent' } };
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
    if (state.status === 'none')
      return { liveness: { alive: false, reason: 'unknown' }, user: { status: 'absent' } };
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

  // ── the parts ──────────────────────────────────────────────────────────────

  private attempt(method: SignInMethod, input: PasswordSignIn, context: RequestContext): Attempt {
    return {
      method,
      applicationId: input.applicationId,
      userName: input.userName,
      userId: null,
      clientVersion: input.clientVersion,
      context,
    };
  }

  /** Records a failed sign-in a front end refused by itself (e.g. an SSH key signature that did not verify). */
  async recordFailure(reason: SignInFailureReason, attempt: Attempt): Promise<void> {
    await this.admit(attempt)
      .then(() => this.refuse(reason, attempt))
      .catch((error: unknown) => {
        if (!(error instanceof SignInRefused)) throw error;
      });
  }

  /** Refuses, unrecorded but counted, an attempt from a banned address or against a banned name. */
  private async admit(attempt: Attempt): Promise<void> {
    const ban = await this.deps.defender.banned(attempt.context.clientIp, attempt.userName);
    if (ban) throw new SignInThrottled(ban.until);
  }

  /** The first step of every sign-in: the defender, then the application. */
  private async begin(attempt: Attempt): Promise<void> {
    await this.admit(attempt);
    await this.requireApplication(attempt);
  }

  /** Records the failure, then throws. Never records the password or the ticket. */
  private async refuse(reason: SignInFailureReason, attempt: Attempt): Promise<never> {
    const event = toNewEvent(
      {
        type: 'SignInFailed',
        data: {
          method: attempt.method,
          reason,
          applicationId: attempt.applicationId,
          userName: attempt.userName,
          userId: attempt.userId,
          clientIp: attempt.context.clientIp,
          clientVersion: attempt.clientVersion,
          at: this.deps.clock.now().toISOString(),
        },
      },
      metadataFor(
        attempt.context,
        attempt.applicationId === null ? {} : { applicationId: attempt.applicationId },
      ),
    );
    await this.deps.store.appendToStream(`signin-failure-${this.deps.ids.uuid()}`, [event], {
      expectedRevision: 'no_stream',
    });
    await this.deps.defender.failed(attempt.context.clientIp, attempt.userName, reason, attempt.context);
    throw new SignInRefused(reason);
  }

  private async requireApplication(attempt: Attempt): Promise<void> {
    if (attempt.applicationId === null) return;
    const application = await this.deps.applications.get(attempt.applicationId);
    if (!application) await this.refuse('unknown-application', attempt);
    else if (!application.enabled) await this.refuse('application-disabled', attempt);
  }

  /**
   * The user behind a name and password. Unknown names, wrong passwords and disabled users
   * look the same to the caller and cost the same time; the event says which it was.
   */
  private async passwordUser(input: PasswordSignIn, attempt: Attempt): Promise<ActiveUser> {
    const userId = await this.deps.users.findUserId('userName', input.userName);
    const user = userId === null ? undefined : await this.deps.users.getUser(userId);
    if (user?.status !== 'active') {
      await this.verify(null, input.password, attempt);
      return this.refuse('unknown-user', attempt);
    }
    const known = { ...attempt, userId: user.userId };
    if (!(await this.verify(user, input.password, attempt))) return this.refuse('invalid-credentials', known);
    if (!user.enabled) return this.refuse('user-disabled', known);
    return user;
  }

  /** The password check, in the defender's lane for addresses that failed lately. */
  private verify(user: ActiveUser | null, password: string, attempt: Attempt): Promise<boolean> {
    return this.deps.defender.verifying(attempt.context.clientIp, () =>
      this.deps.users.verifyPassword(user, password),
    );
  }

  private async openTicket(ticket: string, attempt: Attempt): Promise<TicketClaims> {
    const codec = this.deps.tickets;
    if (!codec) return this.refuse('ticket-malformed', attempt);
    let claims: TicketClaims;
    try {
      claims = codec.open(ticket);
    } catch (error) {
      return this.refuse(ticketReason(error), attempt);
    }
    const rejection = ticketRejection(claims, this.deps.clock.now(), this.deps.ticketPolicy);
    if (rejection) return this.refuse(rejection, attempt);
    return claims;
  }

  /** A ticket is accepted once, across processes: its digest's stream can be created once. */
  private async redeem(
    ticket: string,
    applicationId: number,
    userId: number | null,
    attempt: Attempt,
  ): Promise<void> {
    const digest = this.deps.tickets!.digest(ticket);
    try {
      await this.deps.store.appendToStream(
        `ticket-${digest}`,
        [
          toNewEvent(
            { type: 'TicketRedeemed', data: { ticketDigest: digest, applicationId, userId: userId ?? null } },
            metadataFor(attempt.context, { applicationId }),
          ),
        ],
        { expectedRevision: 'no_stream' },
      );
    } catch (error) {
      if (error instanceof WrongExpectedRevision) await this.refuse('ticket-replayed', attempt);
      throw error;
    }
  }

  private async openForService(
    input: ServiceSignIn,
    kind: 'impersonated' | 'user-string',
    userString: string | null,
    context: RequestContext,
  ): Promise<Opened> {
    const attempt: Attempt = {
      method: 'impersonation',
      applicationId: input.applicationId,
      userName: null,
      userId: input.userId,
      clientVersion: null,
      context,
    };
    await this.admit(attempt);
    const service = await this.authenticate(input.serviceToken);
    if (!service.liveness.alive) return this.refuse('service-session-invalid', attempt);
    if (service.user.status !== 'active' || !service.user.rights.includes('impersonate')) {
      return this.refuse('missing-right', attempt);
    }
    const serviceSession = service.liveness.session;
    // A service acts for users only within its own application.
    if (input.applicationId !== serviceSession.applicationId)
      return this.refuse('application-not-allowed', attempt);
    await this.requireApplication(attempt);
    const user = await this.deps.users.getUser(input.userId);
    if (user.status !== 'active') return this.refuse('unknown-user', attempt);
    if (!user.enabled) return this.refuse('user-disabled', attempt);
    // No one gains a right by impersonation: privileged users cannot be reached.
    if (isPrivileged(user)) return this.refuse('target-privileged', attempt);
    const session: SessionOpenedData = {
      ...this.newSession(user, input.applicationId, kind, 'impersonation', null, context),
      clientIp: input.ipAddress,
      userString,
      impersonator: { userId: service.user.userId, sessionId: serviceSession.sessionId },
    };
    return this.openImmutableSession(session, context, true);
  }

  private newSession(
    user: ActiveUser,
    applicationId: number,
    kind: SessionKind,
    method: SignInMethod,
    clientVersion: string | null,
    context: RequestContext,
  ): SessionOpenedData {
    const now = this.deps.clock.now();
    return {
      sessionId: this.deps.ids.uuid(),
      userId: user.userId,
      applicationId,
      kind,
      method,
      clientVersion,
      clientIp: context.clientIp,
      callerIp: context.clientIp,
      userString: null,
      impersonator: null,
      openedAt: now.toISOString(),
      expiresAt: expiresAt(kind, now, this.deps.replaceableLifetimeMs),
      credentialVersion: user.credentialVersion,
      ...(kind === 'replaceable' && this.deps.replaceableIdleMs !== null
        ? { idleTimeoutMs: this.deps.replaceableIdleMs }
        : {}),
    };
  }

  private sessionMetadata(session: SessionOpenedData, context: RequestContext) {
    return metadataFor(context, {
      userId: session.userId,
      applicationId: session.applicationId,
      sessionId: session.sessionId,
      clientIp: session.clientIp,
      ...(session.userString === null ? {} : { userString: session.userString }),
    });
  }

  private async appendOpened(session: SessionOpenedData, context: RequestContext): Promise<number> {
    const result = await handleCommand(
      this.deps.store,
      sessionStream(session.sessionId),
      sessionDecider,
      { type: 'OpenSession', session },
      this.sessionMetadata(session, context),
    );
    return result.append?.lastPosition ?? 0;
  }

  /** The token is stored before the session is recorded: a crash between leaves a token of nothing. */
  private async tokenFor(
    session: Pick<SessionOpenedData, 'sessionId' | 'idleTimeoutMs'>,
    wanted: boolean,
  ): Promise<string | null> {
    if (!wanted) return null;
    return this.deps.tokens.issue(session.sessionId, session.idleTimeoutMs ?? null, this.deps.clock.now());
  }

  private async openImmutableSession(
    session: SessionOpenedData,
    context: RequestContext,
    withToken: boolean,
  ): Promise<Opened> {
    const token = await this.tokenFor(session, withToken);
    const position = await this.appendOpened(session, context);
    return { sessionId: session.sessionId, token, userId: session.userId, position, created: true };
  }

  /**
   * Replaceable: the new session is recorded, then claims the user's slot for the application,
   * replacing its holder. Until the claim lands the new session is not alive.
   */
  private async openReplaceable(
    user: ActiveUser,
    applicationId: number,
    method: SignInMethod,
    clientVersion: string | null,
    context: RequestContext,
  ): Promise<Opened> {
    const session = this.newSession(user, applicationId, 'replaceable', method, clientVersion, context);
    const token = await this.tokenFor(session, true);
    await this.appendOpened(session, context);
    const position = await this.claim('replaceable', session, context, async () => false);
    return { sessionId: session.sessionId, token, userId: user.userId, position, created: true };
  }

  /**
   * SFTP and FTPS: the user's alive immutable session for the protocol, or a new one. Handing
   * out the alive one is a sign-in too, recorded as SessionReused on that session's stream.
   */
  private async openForProtocol(
    session: SessionOpenedData,
    context: RequestContext,
    withToken: boolean,
  ): Promise<Opened> {
    const isAlive = async (holder: string) => (await this.check(holder)).liveness.alive;
    const { state } = await loadState(
      this.deps.store,
      slotStream('protocol', session.userId, session.applicationId),
      slotDecider,
      'last',
    );
    if (state.holder !== null && (await isAlive(state.holder))) {
      const reused = await this.reuse(state.holder, session, context, withToken);
      if (reused) return reused;
    }
    const token = await this.tokenFor(session, withToken);
    await this.appendOpened(session, context);
    try {
      const position = await this.claim('protocol', session, context, isAlive);
      return { sessionId: session.sessionId, token, userId: session.userId, position, created: true };
    } catch (error) {
      if (!(error instanceof DomainError) || error.code !== 'slot-held') throw error;
      // A concurrent sign-in won: ours never served anyone; close it and hand out the winner.
      await handleCommand(
        this.deps.store,
        sessionStream(session.sessionId),
        sessionDecider,
        {
          type: 'CloseSession',
          sessionId: session.sessionId,
          by: null,
          reason: 'superseded',
          now: this.deps.clock.now(),
        },
        this.sessionMetadata(session, context),
      );
      const winner = await this.reuse(String(error.details.sessionId), session, context, withToken);
      if (!winner) throw new DomainError('session-ended', 'the protocol session ended during sign-in');
      return winner;
    }
  }

  /**
   * Records that this sign-in was handed the alive session `sessionId` (a token of its own when
   * asked); undefined when that session ended meanwhile.
   */
  private async reuse(
    sessionId: string,
    attempt: SessionOpenedData,
    context: RequestContext,
    withToken: boolean,
  ): Promise<Opened | undefined> {
    const now = this.deps.clock.now();
    const token = await this.tokenFor({ sessionId }, withToken);
    try {
      const result = await handleCommand(
        this.deps.store,
        sessionStream(sessionId),
        sessionDecider,
        {
          type: 'ReuseSession',
          now,
          reuse: {
            sessionId,
            userId: attempt.userId,
            applicationId: attempt.applicationId,
            method: attempt.method,
            clientVersion: attempt.clientVersion,
            clientIp: attempt.clientIp,
            at: now.toISOString(),
          },
        },
        this.sessionMetadata({ ...attempt, sessionId }, context),
      );
      return {
        sessionId,
        token,
        userId: attempt.userId,
        position: result.append?.lastPosition ?? 0,
        created: false,
      };
    } catch (error) {
      if (error instanceof DomainError && error.code === 'session-ended') return undefined;
      throw error;
    }
  }

  private async claim(
    slot: SlotKind,
    session: SessionOpenedData,
    context: RequestContext,
    isAlive: (holder: string) => Promise<boolean>,
  ): Promise<number> {
    const result = await handleCommand(
      this.deps.store,
      slotStream(slot, session.userId, session.applicationId),
      slotDecider,
      async (state) => ({
        type: 'ClaimSlot' as const,
        slot,
        userId: session.userId,
        applicationId: session.applicationId,
        sessionId: session.sessionId,
        holderAlive: state.holder !== null && (await isAlive(state.holder)),
      }),
      this.sessionMetadata(session, context),
      'last',
    );
    return result.append?.lastPosition ?? 0;
  }
}
