/**
 * The seven session calls (Open, OpenWithTicket, OpenWithTicketEx, OpenImmutable,
 * OpenImmutableImpersonate, OpenImmutableUserString, Close), the SSH sign-in, and the one
 * liveness check every front end applies. Each call checks who is asking
 * (sign-in-credentials.ts, which records every refusal), then opens the session
 * (session-opening.ts); the check of a live session is session-check.ts.
 */
import type { EventStore } from '../domain/event-store.js';
import type { TicketPolicy } from '../domain/sessions/ticket-rules.js';
import { foldCase } from '../domain/users/reservation.js';
import { isPrivileged } from '../domain/users/user.js';
import { requireValidUserName } from '../domain/users/user-name.js';
import type { ApplicationService } from './applications.js';
import type { SignInDefender } from './defender.js';
import { metadataFor } from './metadata.js';
import type { Clock, IdGenerator, RequestContext, SessionTokens } from './ports.js';
import { type SessionCheck, SessionChecks } from './session-check.js';
import { type Opened, SessionOpening } from './session-opening.js';
import { type Attempt, Credentials, type SignInMethod, type TicketOpener } from './sign-in-credentials.js';
import type { ActiveUser, UserService } from './users.js';

export type { SessionCheck } from './session-check.js';
export type { Opened } from './session-opening.js';
export {
  type Attempt,
  type SignInFailureReason,
  SignInRefused,
  SignInThrottled,
  type TicketOpener,
} from './sign-in-credentials.js';

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

/** An SSH user-auth request that carries a credential (not a key query). */
export interface SshSignIn {
  readonly userName: string;
  readonly applicationId: number;
  readonly clientVersion: string;
  readonly credential:
    | { readonly method: 'password'; readonly password: string }
    | {
        readonly method: 'public-key';
        readonly fingerprint: string;
        /** Whether the client's signature verifies with this stored public key (the transport's crypto). */
        readonly verify: (storedPublicKey: string) => boolean;
      };
}

export class SignInService {
  private readonly credentials: Credentials;
  private readonly checks: SessionChecks;
  private readonly opening: SessionOpening;

  constructor(private readonly deps: SignInDeps) {
    this.credentials = new Credentials(deps);
    this.checks = new SessionChecks(deps);
    this.opening = new SessionOpening({ ...deps, checks: this.checks });
  }

  // ── the seven calls ────────────────────────────────────────────────────────

  async open(input: PasswordSignIn, context: RequestContext): Promise<Opened> {
    const user = await this.passwordSignIn(input, context);
    return this.openNew(user, input.applicationId, 'replaceable', 'password', input.clientVersion, context);
  }

  async openWithTicket(
    input: { ticket: string; applicationId: number; clientVersion: string | null },
    context: RequestContext,
  ): Promise<Opened> {
    const { credentials } = this;
    const attempt = attemptOf('ticket', input.applicationId, null, input.clientVersion, context);
    await credentials.begin(attempt);
    const claims = await credentials.openTicket(input.ticket, attempt);
    if (claims.subject.kind !== 'user') return credentials.refuse('ticket-mismatch', attempt);
    const named = { ...attempt, userName: claims.subject.userName };
    if (claims.applicationId !== input.applicationId) return credentials.refuse('ticket-mismatch', named);
    const user = await credentials.activeUser('userName', claims.subject.userName);
    if (!user) return credentials.refuse('unknown-user', named);
    const known = { ...named, userId: user.userId };
    if (!user.enabled) return credentials.refuse('user-disabled', known);
    if (isPrivileged(user)) return credentials.refuse('privileged-user', known);
    await credentials.redeem(input.ticket, input.applicationId, user.userId, known);
    return this.openNew(user, input.applicationId, 'replaceable', 'ticket', input.clientVersion, context);
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
    const { credentials } = this;
    const attempt = attemptOf(
      'ticket-ex',
      input.applicationId,
      input.emailAddress,
      input.clientVersion,
      context,
    );
    await credentials.begin(attempt);
    const claims = await credentials.openTicket(input.ticket, attempt);
    // Everything the call says must be what the integrator sealed in the ticket.
    const subject = claims.subject;
    if (
      subject.kind !== 'email' ||
      claims.applicationId !== input.applicationId ||
      foldCase(subject.emailAddress) !== foldCase(input.emailAddress) ||
      subject.firstName !== input.firstName ||
      subject.lastName !== input.lastName
    ) {
      return credentials.refuse('ticket-mismatch', attempt);
    }
    let user = await credentials.activeUser('emailAddress', input.emailAddress);
    if (user && !user.enabled)
      return credentials.refuse('user-disabled', { ...attempt, userId: user.userId });
    if (user && isPrivileged(user))
      return credentials.refuse('privileged-user', { ...attempt, userId: user.userId });
    // A user it would create must have a valid name before the ticket is spent (400, nothing changed).
    if (!user) requireValidUserName(input.emailAddress);
    // The ticket is spent before anything is created with it.
    await credentials.redeem(input.ticket, input.applicationId, user?.userId ?? null, attempt);
    if (!user) {
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
      user = created.user as ActiveUser;
    }
    return this.openNew(user, input.applicationId, 'replaceable', 'ticket-ex', input.clientVersion, context);
  }

  async openImmutable(input: PasswordSignIn, context: RequestContext): Promise<Opened> {
    const user = await this.passwordSignIn(input, context);
    return this.openNew(user, input.applicationId, 'immutable', 'password', input.clientVersion, context);
  }

  async openImmutableImpersonate(input: ServiceSignIn, context: RequestContext): Promise<Opened> {
    return this.openForService(input, 'impersonated', null, context);
  }

  async openImmutableUserString(
    input: (ServiceSignIn | PasswordSignIn) & { userString: string },
    context: RequestContext,
  ): Promise<Opened> {
    if ('serviceToken' in input) return this.openForService(input, 'user-string', input.userString, context);
    const user = await this.passwordSignIn(input, context);
    const session = this.opening.newSession(
      user,
      input.applicationId,
      'user-string',
      'password',
      input.clientVersion,
      context,
    );
    return this.opening.open({ ...session, userString: input.userString }, context, true);
  }

  close(
    sessionId: string,
    context: RequestContext,
    closer: { readonly sessionId: string; readonly admin: boolean },
  ): Promise<{ position: number }> {
    return this.opening.close(sessionId, context, closer);
  }

  // ── SSH ────────────────────────────────────────────────────────────────────

  /**
   * An SSH sign-in by password or proven key: OpenImmutable semantics (the protocol's alive
   * session is handed out again), no token. Resolves with the session and its user, loaded
   * once; a refusal is recorded and thrown as SignInRefused.
   */
  async openSsh(input: SshSignIn, context: RequestContext): Promise<{ sessionId: string; user: ActiveUser }> {
    const { credential } = input;
    let user: ActiveUser;
    if (credential.method === 'password') {
      user = await this.passwordSignIn({ ...input, password: credential.password }, context);
    } else {
      const attempt = attemptOf(
        'public-key',
        input.applicationId,
        input.userName,
        input.clientVersion,
        context,
      );
      await this.credentials.begin(attempt);
      user = await this.credentials.keyUser(
        input.userName,
        credential.fingerprint,
        credential.verify,
        attempt,
      );
    }
    const session = this.opening.newSession(
      user,
      input.applicationId,
      'immutable',
      credential.method,
      input.clientVersion,
      context,
    );
    const opened = await this.opening.open(session, context, false);
    return { sessionId: opened.sessionId, user };
  }

  /** Whether the user of that name holds this key (an SSH key query: nothing is recorded). */
  async holdsKey(userName: string, fingerprint: string): Promise<boolean> {
    const user = await this.credentials.activeUser('userName', userName);
    return user?.keys.some((k) => k.fingerprint === fingerprint) ?? false;
  }

  // ── checks ─────────────────────────────────────────────────────────────────

  /** Whether a bearer token may act now, and as whom (an unknown token is an unknown session). */
  authenticate(token: string): Promise<SessionCheck> {
    return this.checks.authenticate(token);
  }

  /** Whether a session id may act now, and as whom. */
  check(sessionId: string): Promise<SessionCheck> {
    return this.checks.check(sessionId);
  }

  // ── the parts ──────────────────────────────────────────────────────────────

  private async passwordSignIn(input: PasswordSignIn, context: RequestContext): Promise<ActiveUser> {
    const attempt = attemptOf('password', input.applicationId, input.userName, input.clientVersion, context);
    await this.credentials.begin(attempt);
    return this.credentials.passwordUser(input.userName, input.password, attempt);
  }

  private openNew(
    user: ActiveUser,
    applicationId: number,
    kind: 'replaceable' | 'immutable',
    method: SignInMethod,
    clientVersion: string | null,
    context: RequestContext,
  ): Promise<Opened> {
    const session = this.opening.newSession(user, applicationId, kind, method, clientVersion, context);
    return this.opening.open(session, context, true);
  }

  private async openForService(
    input: ServiceSignIn,
    kind: 'impersonated' | 'user-string',
    userString: string | null,
    context: RequestContext,
  ): Promise<Opened> {
    const { credentials } = this;
    const attempt: Attempt = {
      ...attemptOf('impersonation', input.applicationId, null, null, context),
      userId: input.userId,
    };
    await credentials.admit(attempt);
    const service = await this.checks.authenticate(input.serviceToken);
    if (!service.liveness.alive) return credentials.refuse('service-session-invalid', attempt);
    if (service.user.status !== 'active' || !service.user.rights.includes('impersonate')) {
      return credentials.refuse('missing-right', attempt);
    }
    const serviceSession = service.liveness.session;
    // A service acts for users only within its own application.
    if (input.applicationId !== serviceSession.applicationId)
      return credentials.refuse('application-not-allowed', attempt);
    await credentials.requireApplication(attempt);
    const user = await this.deps.users.getUser(input.userId);
    if (user.status !== 'active') return credentials.refuse('unknown-user', attempt);
    if (!user.enabled) return credentials.refuse('user-disabled', attempt);
    // No one gains a right by impersonation: privileged users cannot be reached.
    if (isPrivileged(user)) return credentials.refuse('target-privileged', attempt);
    const session = {
      ...this.opening.newSession(user, input.applicationId, kind, 'impersonation', null, context),
      clientIp: input.ipAddress,
      userString,
      impersonator: { userId: service.user.userId, sessionId: serviceSession.sessionId },
    };
    return this.opening.open(session, context, true);
  }
}

function attemptOf(
  method: SignInMethod,
  applicationId: number,
  userName: string | null,
  clientVersion: string | null,
  context: RequestContext,
): Attempt {
  return { method, applicationId, userName, userId: null, clientVersion, context };
}
