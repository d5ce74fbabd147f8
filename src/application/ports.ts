/**
 * What the use cases need from the outside world, as interfaces: `src/main.ts` passes the
 * real adapters, tests may pass a fake clock. Time and ids come from here, never from globals.
 */
export interface Clock {
  now(): Date;
}

export interface IdGenerator {
  /** A new UUID (v7: time-ordered). */
  uuid(): string;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
  /** Spends the same effort as a verify, so unknown user names cost as much as wrong passwords. */
  burn(password: string): Promise<void>;
}

/** Salted password hashes, kept outside the event log; events record only the version. */
export interface CredentialStore {
  put(userId: number, version: number, hash: string): Promise<void>;
  get(userId: number, version: number): Promise<string | undefined>;
  /** Highest version stored for the user (0 when none). */
  latestVersion(userId: number): Promise<number>;
}

/**
 * Secrets of flows and notifiers (an outside server's password or key, a webhook's signing
 * secret), kept outside the event log and the views; the events say only which kind is kept.
 */
export interface ReactionSecrets {
  /** Stores the secret of a flow or notifier (once: a second put for the same owner fails). */
  put(ownerId: string, secret: Readonly<Record<string, string>>): Promise<void>;
  get(ownerId: string): Promise<Readonly<Record<string, string>> | undefined>;
  /** Deletes the secret of a removed flow or notifier (none: nothing to do). */
  remove(ownerId: string): Promise<void>;
}

/**
 * Bearer tokens of sessions, kept apart from the public session id: a token is returned once,
 * by the call that opens the session, and only its hash is stored (never in an event, a view
 * or a log line). Whoever reads the log or the views can never act with what they read.
 */
export interface SessionTokens {
  /**
   * A new secret token (at least 256 random bits) for the session; its hash is stored first.
   * `idleTimeoutMs`: the session ends when unused that long (null: never), counted from `now`.
   */
  issue(sessionId: string, idleTimeoutMs: number | null, now: Date): Promise<string>;
  /** The session a token was issued for and when it was last used, or undefined (unknown or not a token). */
  resolve(token: string): Promise<TokenUse | undefined>;
  /** Records a use of the token at `now` (moves its idle deadline). */
  touch(token: string, now: Date): Promise<void>;
  /** Sessions whose idle deadline is at or before `now`, earliest first. */
  idle(now: Date, limit: number): Promise<TokenUse[]>;
  /** Stops following the session's idleness: its end is recorded. */
  settle(sessionId: string): Promise<void>;
}

export interface TokenUse {
  readonly sessionId: string;
  /** Undefined for tokens issued before uses were kept. */
  readonly lastUsedAt: Date | undefined;
}

export type BanScope = 'address' | 'user';

/** Where a page of bans ends: the order is (until, scope, key). */
export interface BanKey {
  readonly until: Date;
  readonly scope: BanScope;
  readonly key: string;
}

export interface Ban {
  readonly scope: BanScope;
  readonly key: string;
  readonly until: Date;
  readonly banNumber: number;
  readonly failures: number;
}

/** What the defender counts: bans' keys, and (`failures`) failed sign-ins by reason past their budget. */
export type CountScope = BanScope | 'failures';

/**
 * Refusals during a ban of one key, or failures past their budget (scope `failures`, key the
 * reason), taken for its `number`-th summary.
 */
export interface RefusedSummary {
  readonly scope: CountScope;
  readonly key: string;
  readonly number: number;
  readonly count: number;
  readonly from: Date;
  readonly to: Date;
}

/**
 * The sign-in defender's counters, shared by every instance (PostgreSQL): failures per key in
 * a window, bans, and refusals during bans not yet summarized. A ban, its lifting and a
 * summary take effect here only once their event is durable (the defender appends first).
 */
export interface DefenderStore {
  /**
   * The ban refusing an attempt from `address` at (case-folded) `userName` at `now`, if any
   * (the refusal is counted against it): the address's ban, or the name's when the address
   * failed since `failedSince`. Else until when the address's last failure holds its next
   * attempt, if that is after `now`.
   */
  check(
    address: string,
    userName: string | null,
    now: Date,
    failedSince: Date,
  ): Promise<{ ban?: Ban; heldUntil?: Date }>;
  /**
   * Counts one failure against the key (a new window once `windowMs` has passed). When the
   * count reaches `max` and no ban holds, resolves with the ban now `due` (numbered and timed
   * by `banLength(banNumber)`), not yet started: `startBan` starts it once it is recorded.
   * Otherwise holds the key's next attempt until `now + delay(failures)`.
   */
  fail(
    scope: BanScope,
    key: string,
    now: Date,
    rule: {
      max: number;
      windowMs: number;
      banLength: (banNumber: number) => number;
      delay: (failures: number) => number;
    },
  ): Promise<{ failures: number; due?: Ban }>;
  /**
   * Counts one failure with `reason` against the minute's budget of `max` events; true when it
   * is within (record it), false when it was counted for the next summary instead.
   */
  budgetFailure(reason: string, now: Date, max: number): Promise<boolean>;
  /** Starts a recorded ban (once: false when it, or a later one, was already started). */
  startBan(ban: Ban, now: Date): Promise<boolean>;
  /** The ban holding the key at `now`, if any (nothing counted). */
  banOf(scope: BanScope, key: string, now: Date): Promise<Ban | undefined>;
  /** Bans holding at `now`, soonest to end first, after `after` in that order; at most `limit`. */
  list(now: Date, limit: number, after?: BanKey): Promise<Ban[]>;
  /** Ends the key's `banNumber`-th ban (and its failure count); false when it no longer held. */
  lift(scope: BanScope, key: string, banNumber: number, now: Date): Promise<boolean>;
  /**
   * Takes the refusal counts not yet summarized, each under a new summary number, along with
   * any taken before whose summary was never settled (its append failed, or its instance died).
   * They stay pending until `settleRefused`.
   */
  takeRefused(): Promise<RefusedSummary[]>;
  /** Lets go of a summary's counts once its event is durable. */
  settleRefused(summary: RefusedSummary): Promise<void>;
}

/**
 * A user's live connections counted across every instance: a lease per connection, taken
 * under the user's limit and given back when the connection ends; those of an instance that
 * died stop counting once its own lease runs out.
 */
export interface ConnectionLeases {
  /** Takes a lease for the connection unless the user already holds `max`; false when refused. */
  acquire(userId: number, connectionId: string, max: number): Promise<boolean>;
  release(connectionId: string): Promise<void>;
}

/** Who asks, from where, as part of which request: becomes every event's metadata. */
export interface RequestContext {
  readonly correlationId: string;
  readonly clientIp: string;
  readonly clientPort?: number;
  /** The acting session, when the caller is signed in. */
  readonly actor?: {
    readonly userId: number;
    readonly applicationId: number;
    readonly sessionId: string;
    readonly userString: string | null;
  };
}

/** The log's signing key (Ed25519), kept outside the log and the database. */
export interface LogSigner {
  /** SHA-256 of the public key's DER SubjectPublicKeyInfo, hex. */
  readonly keyId: string;
  readonly publicKeyPem: string;
  /** The Ed25519 signature of `message`, base64. */
  sign(message: Buffer): string;
}

/** Checks a tree head's signature with the trusted key of that id. */
export type HeadSignatureCheck = (
  keyId: string,
  message: Buffer,
  signature: string,
) => 'valid' | 'invalid' | 'unknown-key';
