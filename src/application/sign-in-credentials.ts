/**
 * Who is signing in: the defender's admission, the application, the password, the key or the
 * ticket — and the record of every refusal (SignInFailed, never with its secret). The session
 * calls (sign-in.ts) ask here first and open a session (session-opening.ts) only with what
 * this returns.
 */

import type { EventStore } from '../domain/event-store.js';
import { WrongExpectedRevision } from '../domain/event-store.js';
import { type EventOfType, toNewEvent } from '../domain/events/catalogue.js';
import { signInFailureStream, ticketStream } from '../domain/events/session-events.js';
import type { SessionOpenedData } from '../domain/sessions/session.js';
import { type TicketClaims, type TicketPolicy, ticketRejection } from '../domain/sessions/ticket-rules.js';
import type { ApplicationService } from './applications.js';
import type { SignInDefender } from './defender.js';
import { metadataFor } from './metadata.js';
import type { Clock, IdGenerator, RequestContext } from './ports.js';
import type { ActiveUser, UserService } from './users.js';

export type SignInFailureReason = EventOfType<'SignInFailed'>['data']['reason'];
export type SignInMethod = SessionOpenedData['method'];

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

/** What one sign-in attempt says about itself: the fields of its SignInFailed if refused. */
export interface Attempt {
  readonly method: SignInMethod;
  readonly applicationId: number | null;
  readonly userName: string | null;
  readonly userId: number | null;
  readonly clientVersion: string | null;
  readonly context: RequestContext;
}

export interface CredentialsDeps {
  readonly store: EventStore;
  readonly users: UserService;
  readonly applications: ApplicationService;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly defender: SignInDefender;
  /** Absent when MFT_TICKET_SECRET is not set: ticket calls are then refused as malformed. */
  readonly tickets: TicketOpener | undefined;
  readonly ticketPolicy: TicketPolicy;
}

function ticketReason(error: unknown): SignInFailureReason {
  const reason = (error as { reason?: unknown }).reason;
  return reason === 'ticket-wrong-key' ? 'ticket-wrong-key' : 'ticket-malformed';
}

export class Credentials {
  constructor(private readonly deps: CredentialsDeps) {}

  /** Refuses, unrecorded but counted, an attempt from a banned address or against a banned name. */
  async admit(attempt: Attempt): Promise<void> {
    const ban = await this.deps.defender.banned(attempt.context.clientIp, attempt.userName);
    if (ban) throw new SignInThrottled(ban.until);
  }

  /** The first step of every sign-in: the defender, then the application. */
  async begin(attempt: Attempt): Promise<void> {
    await this.admit(attempt);
    await this.requireApplication(attempt);
  }

  /**
   * Records the failure (or, for an unknown name past the defender's budget, counts it for a
   * summary), then throws. Never records the password or the ticket.
   */
  async refuse(reason: SignInFailureReason, attempt: Attempt): Promise<never> {
    if (await this.deps.defender.recordsFailure(reason)) await this.recordFailed(reason, attempt);
    await this.deps.defender.failed(attempt.context.clientIp, attempt.userName, reason, attempt.context);
    throw new SignInRefused(reason);
  }

  private async recordFailed(reason: SignInFailureReason, attempt: Attempt): Promise<void> {
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
    await this.deps.store.appendToStream(signInFailureStream(this.deps.ids.uuid()), [event], {
      expectedRevision: 'no_stream',
    });
  }

  async requireApplication(attempt: Attempt): Promise<void> {
    if (attempt.applicationId === null) return;
    const application = await this.deps.applications.get(attempt.applicationId);
    if (!application) await this.refuse('unknown-application', attempt);
    else if (!application.enabled) await this.refuse('application-disabled', attempt);
  }

  /** The active user of that name (or e-mail address), or undefined. */
  async activeUser(field: 'userName' | 'emailAddress', value: string): Promise<ActiveUser | undefined> {
    const userId = await this.deps.users.findUserId(field, value);
    const user = userId === null ? undefined : await this.deps.users.getUser(userId);
    return user?.status === 'active' ? user : undefined;
  }

  /**
   * The user behind a name and password. Unknown names, wrong passwords and disabled users
   * look the same to the caller and cost the same time; the event says which it was.
   */
  async passwordUser(userName: string, password: string, attempt: Attempt): Promise<ActiveUser> {
    const user = await this.activeUser('userName', userName);
    if (!user) {
      await this.verify(null, password, attempt);
      return this.refuse('unknown-user', attempt);
    }
    const known = { ...attempt, userId: user.userId };
    if (!(await this.verify(user, password, attempt))) return this.refuse('invalid-credentials', known);
    if (!user.enabled) return this.refuse('user-disabled', known);
    return user;
  }

  /**
   * The user of that name holding the key `fingerprint`, if `verify` (the transport's crypto)
   * says the client's signature is made with it; otherwise a recorded refusal.
   */
  async keyUser(
    userName: string,
    fingerprint: string,
    verify: (storedPublicKey: string) => boolean,
    attempt: Attempt,
  ): Promise<ActiveUser> {
    const user = await this.activeUser('userName', userName);
    if (!user) return this.refuse('unknown-user', attempt);
    const known = { ...attempt, userId: user.userId };
    const key = user.keys.find((k) => k.fingerprint === fingerprint);
    if (!key || !verify(key.publicKey)) return this.refuse('invalid-credentials', known);
    if (!user.enabled) return this.refuse('user-disabled', known);
    return user;
  }

  /** The password check, in the defender's lane for addresses that failed lately. */
  private verify(user: ActiveUser | null, password: string, attempt: Attempt): Promise<boolean> {
    return this.deps.defender.verifying(attempt.context.clientIp, () =>
      this.deps.users.verifyPassword(user, password),
    );
  }

  /** The claims of a ticket that opens, is fresh and names this site; otherwise a recorded refusal. */
  async openTicket(ticket: string, attempt: Attempt): Promise<TicketClaims> {
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
  async redeem(
    ticket: string,
    applicationId: number,
    userId: number | null,
    attempt: Attempt,
  ): Promise<void> {
    const digest = this.deps.tickets!.digest(ticket);
    try {
      await this.deps.store.appendToStream(
        ticketStream(digest),
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
}
