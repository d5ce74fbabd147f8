/**
 * Opening and closing sessions for a user whose credentials were checked (sign-in-credentials.ts):
 * the SessionOpened record, its token, and the sign-in slot that makes a replaceable session
 * replace the last one and a protocol's OpenImmutable hand out the session already alive.
 */
import { isProtocolApplication } from '../domain/applications/built-in.js';
import { DomainError } from '../domain/decider.js';
import type { EventStore } from '../domain/event-store.js';
import {
  expiresAt,
  type SessionKind,
  type SessionOpenedData,
  sessionDecider,
  sessionStream,
} from '../domain/sessions/session.js';
import { type SlotKind, slotDecider, slotStream } from '../domain/sessions/slot.js';
import { handleCommand, loadState } from './command-handler.js';
import { metadataFor } from './metadata.js';
import type { Clock, IdGenerator, RequestContext, SessionTokens } from './ports.js';
import type { SessionChecks } from './session-check.js';
import type { SignInMethod } from './sign-in-credentials.js';
import type { ActiveUser } from './users.js';

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

export interface SessionOpeningDeps {
  readonly store: EventStore;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly tokens: SessionTokens;
  readonly checks: SessionChecks;
  /** Lifetime of replaceable sessions; null: until replaced or closed. */
  readonly replaceableLifetimeMs: number | null;
  /** Replaceable sessions unused this long end; null: no idle limit. */
  readonly replaceableIdleMs: number | null;
}

export class SessionOpening {
  constructor(private readonly deps: SessionOpeningDeps) {}

  /** The SessionOpened data of a new session of `user` (not yet recorded). */
  newSession(
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

  /**
   * Records the session: a replaceable one replaces the user's last for the application; an
   * immutable one on a protocol's application (SFTP, FTPS) may be handed the alive one instead.
   */
  open(session: SessionOpenedData, context: RequestContext, withToken: boolean): Promise<Opened> {
    if (session.kind === 'replaceable') return this.openReplaceable(session, context);
    if (session.kind === 'immutable' && isProtocolApplication(session.applicationId))
      return this.openForProtocol(session, context, withToken);
    return this.openImmutable(session, context, withToken);
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

  private async openImmutable(
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
  private async openReplaceable(session: SessionOpenedData, context: RequestContext): Promise<Opened> {
    const token = await this.tokenFor(session, true);
    await this.appendOpened(session, context);
    const position = await this.claim('replaceable', session, context, async () => false);
    return { sessionId: session.sessionId, token, userId: session.userId, position, created: true };
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
    const isAlive = async (holder: string) => (await this.deps.checks.check(holder)).liveness.alive;
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
