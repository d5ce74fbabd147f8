/**
 * The sign-in defender, shared by every protocol (HTTP sign-in calls, SSH password and key) and
 * every instance (its counters live in PostgreSQL): failures that look like guessing count per
 * source address and per user name; enough of them within the window ban the key for a time
 * that doubles with each repeat. Before that, each further failure of a key is held longer
 * before its answer, and the address's next attempt is not checked before the hold ends (so a
 * client that does not wait for its answer gains nothing); a real user who knows the password
 * is never held by guesses at their name from elsewhere, nor refused by its name's ban unless
 * their own address failed lately. A ban is an event (SignInBanned), so
 * is lifting it; delays are no events; attempts refused during a ban are counted, not recorded
 * one by one, and summed into one SignInAttemptsRefused per key and summary.
 *
 * Nothing takes effect before its event is durable: a ban starts, a ban is lifted, and refusal
 * counts are let go only after SignInBanned, SignInBanLifted or SignInAttemptsRefused is
 * appended. Each goes to a stream named for what it records (the key's n-th ban, its n-th
 * summary), so instances racing, or a retry after a crash between append and apply, record it
 * once and apply what was recorded.
 */
import { banLength, countsAsGuessing, type DefenderPolicy, failureDelay } from '../domain/defender/policy.js';
import { type EventStore, WrongExpectedRevision } from '../domain/event-store.js';
import { type EventOfType, toNewEvent } from '../domain/events/catalogue.js';
import { banStream, failuresSummaryStream, refusedSummaryStream } from '../domain/events/defender-events.js';
import type { EventMetadata } from '../domain/events/envelope.js';
import { foldCase } from '../domain/users/reservation.js';
import { AddressList } from './address-list.js';
import { metadataFor, systemMetadata } from './metadata.js';
import type {
  Ban,
  BanKey,
  BanScope,
  Clock,
  DefenderStore,
  IdGenerator,
  RefusedSummary,
  RequestContext,
} from './ports.js';

type Reason = EventOfType<'SignInFailed'>['data']['reason'];
type DefenderEvent = EventOfType<
  'SignInBanned' | 'SignInBanLifted' | 'SignInAttemptsRefused' | 'SignInFailuresSummarized'
>;

/** Failures whose SignInFailed events are budgeted per minute (anyone can invent names). */
const BUDGETED: ReadonlySet<Reason> = new Set<Reason>(['unknown-user']);

/**
 * A summary's stream and event: the key's `number`-th summary of refusals during its bans, or
 * of failures with one reason past their budget.
 */
function summaryEvent(summary: RefusedSummary): { stream: string; event: DefenderEvent } {
  const { scope, key, number, count } = summary;
  const from = summary.from.toISOString();
  const to = summary.to.toISOString();
  if (scope === 'failures') {
    const reason = key as Reason;
    return {
      stream: failuresSummaryStream(key, number),
      event: { type: 'SignInFailuresSummarized', data: { reason, count, from, to } },
    };
  }
  return {
    stream: refusedSummaryStream(scope, key, number),
    event: { type: 'SignInAttemptsRefused', data: { scope, key, count, from, to } },
  };
}

export interface DefenderDeps {
  readonly store: EventStore;
  readonly counters: DefenderStore;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly policy: DefenderPolicy;
  /** Told of each ban started and each attempt refused (metrics). */
  readonly onBan?: (ban: Ban) => void;
  readonly onRefused?: (scope: BanScope) => void;
  /** Told of each hold: a failure's answer held (`failure`), or an attempt that came too soon (`early`). */
  readonly onDelay?: (kind: DelayKind, ms: number) => void;
  /** Waits `ms` (real time: a hold is for the client to feel). */
  readonly sleep: (ms: number) => Promise<void>;
}

export type DelayKind = 'failure' | 'early';

/** How often an attempt waits for its address's hold before it is checked regardless. */
const MAX_HOLDS_PER_ATTEMPT = 3;

/** Addresses remembered as having failed lately, per process (the oldest forgotten past this). */
const MAX_SUSPECTS = 10_000;

/** Runs tasks one at a time, in arrival order. */
class Lane {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

export class SignInDefender {
  private readonly allowed: AddressList;
  /** Addresses that failed in this process within the window, with when that ends. */
  private readonly suspects = new Map<string, number>();
  private readonly suspectLane = new Lane();

  constructor(private readonly deps: DefenderDeps) {
    this.allowed = new AddressList(deps.policy.allowList);
  }

  private keys(address: string, userName: string | null) {
    return [
      { scope: 'address' as const, key: address },
      ...(userName === null || userName === '' ? [] : [{ scope: 'user' as const, key: foldCase(userName) }]),
    ];
  }

  /**
   * The ban refusing this attempt, if one holds (the refusal is counted for the next summary):
   * the address's own ban, or its user name's when the address failed within the window. A
   * name's ban never refuses its real user at an address that has not been guessing, so
   * guessing at a name cannot lock its owner out. An attempt from an address whose last
   * failure is still held first waits for the hold to end.
   */
  async banned(address: string, userName: string | null): Promise<Ban | undefined> {
    if (this.allowed.has(address)) return undefined;
    const name = userName === null || userName === '' ? null : foldCase(userName);
    for (let holds = 0; ; holds++) {
      const now = this.deps.clock.now();
      const failedSince = new Date(now.getTime() - this.deps.policy.windowMs);
      const { ban, heldUntil } = await this.deps.counters.check(address, name, now, failedSince);
      if (ban) {
        this.deps.onRefused?.(ban.scope);
        return ban;
      }
      if (heldUntil === undefined || holds === MAX_HOLDS_PER_ATTEMPT) return undefined;
      await this.hold('early', heldUntil.getTime() - now.getTime());
    }
  }

  /**
   * Runs the costly check of a secret (an argon2id verification) for an attempt from
   * `address`. Attempts from addresses that failed lately in this process are checked one at a
   * time in one lane, so guessers, however many, share one core and never take every core from
   * users at other addresses.
   */
  verifying<T>(address: string, check: () => Promise<T>): Promise<T> {
    const until = this.suspects.get(address);
    if (until === undefined) return check();
    if (until <= this.deps.clock.now().getTime()) {
      this.suspects.delete(address);
      return check();
    }
    return this.suspectLane.run(check);
  }

  private suspect(address: string, now: Date): void {
    this.suspects.delete(address);
    this.suspects.set(address, now.getTime() + this.deps.policy.windowMs);
    if (this.suspects.size > MAX_SUSPECTS) {
      const [oldest] = this.suspects.keys();
      if (oldest !== undefined) this.suspects.delete(oldest);
    }
  }

  /**
   * Counts a recorded failure; a failure that starts a ban records SignInBanned. Resolves once
   * the failure's answer has been held for the longer of its address's and its name's delays.
   */
  async failed(
    address: string,
    userName: string | null,
    reason: Reason,
    context: RequestContext,
  ): Promise<void> {
    if (!countsAsGuessing(reason) || this.allowed.has(address)) return;
    const { policy } = this.deps;
    const now = this.deps.clock.now();
    this.suspect(address, now);
    let delay = 0;
    for (const { scope, key } of this.keys(address, userName)) {
      const { failures, due } = await this.deps.counters.fail(scope, key, now, {
        max: scope === 'address' ? policy.maxFailuresPerAddress : policy.maxFailuresPerUser,
        windowMs: policy.windowMs,
        banLength: (n) => banLength(policy, n),
        // Only the address's hold stops its next attempt: a name's never stops its real user.
        delay: (n) => (scope === 'address' ? failureDelay(policy, n) : 0),
      });
      if (due) await this.ban(due, context, now);
      else delay = Math.max(delay, failureDelay(policy, failures));
    }
    await this.hold('failure', delay);
  }

  /**
   * Records the due ban, then starts it. When its stream already holds it (another instance
   * recorded it first, or this key's last attempt died between recording and starting), the
   * recorded ban is the one started.
   */
  private async ban(due: Ban, context: RequestContext, now: Date): Promise<void> {
    const stream = banStream(due.scope, due.key, due.banNumber);
    let ban = due;
    try {
      await this.append(
        stream,
        {
          type: 'SignInBanned',
          data: {
            scope: due.scope,
            key: due.key,
            failures: due.failures,
            banNumber: due.banNumber,
            until: due.until.toISOString(),
          },
        },
        metadataFor(context, {}),
        'no_stream',
      );
    } catch (error) {
      if (!(error instanceof WrongExpectedRevision)) throw error;
      const [recorded] = await this.deps.store.readStream(stream, { maxCount: 1 });
      const data = (recorded?.data ?? {}) as { until?: string };
      if (data.until === undefined) throw error;
      ban = { ...due, until: new Date(data.until) };
    }
    if ((await this.deps.counters.startBan(ban, now)) && ban === due) this.deps.onBan?.(ban);
  }

  private async hold(kind: DelayKind, ms: number): Promise<void> {
    if (ms <= 0) return;
    this.deps.onDelay?.(kind, ms);
    await this.deps.sleep(ms);
  }

  /** Bans holding now, soonest to end first; a page of `limit` after `after`. */
  list(limit: number, after?: BanKey): Promise<Ban[]> {
    return this.deps.counters.list(this.deps.clock.now(), limit, after);
  }

  /**
   * An admin lifts a ban; false when none held. Recorded as SignInBanLifted on the ban's stream
   * before the ban ends; a lift recorded earlier but not applied (its call failed after the
   * append) is applied again, not recorded twice.
   */
  async lift(scope: BanScope, key: string, context: RequestContext): Promise<boolean> {
    const liftedBy = context.actor?.userId;
    if (liftedBy === undefined) throw new Error('lifting a ban needs a signed-in admin');
    const normalized = scope === 'user' ? foldCase(key) : key;
    const now = this.deps.clock.now();
    const ban = await this.deps.counters.banOf(scope, normalized, now);
    if (ban === undefined) return false;
    const stream = banStream(scope, normalized, ban.banNumber);
    const recorded = await this.deps.store.readStream(stream);
    if (!recorded.some((e) => e.type === 'SignInBanLifted')) {
      try {
        await this.append(
          stream,
          { type: 'SignInBanLifted', data: { scope, key: normalized, liftedBy } },
          metadataFor(context, {}),
          recorded.length === 0 ? 'no_stream' : recorded.length - 1,
        );
      } catch (error) {
        // Another admin's lift of the same ban was recorded first: it is applied below.
        if (!(error instanceof WrongExpectedRevision)) throw error;
      }
    }
    await this.deps.counters.lift(scope, normalized, ban.banNumber, now);
    return true;
  }

  /**
   * Whether a failed sign-in with `reason` is recorded as a SignInFailed of its own: always,
   * but for unknown user names past `maxUnknownUserEventsPerMinute` (shared by every instance),
   * which are counted into the next SignInFailuresSummarized instead.
   */
  async recordsFailure(reason: Reason): Promise<boolean> {
    if (!BUDGETED.has(reason)) return true;
    const max = this.deps.policy.maxUnknownUserEventsPerMinute;
    return this.deps.counters.budgetFailure(reason, this.deps.clock.now(), max);
  }

  /**
   * Records the attempts refused during bans, and the failures past their budget, since the
   * last summary (and any summary whose
   * append failed before); the counts are let go only once recorded. Resolves with how many
   * events; rejects with the first failure after trying every summary.
   */
  async summarize(): Promise<number> {
    const taken = await this.deps.counters.takeRefused();
    let failure: unknown;
    let recorded = 0;
    for (const summary of taken) {
      const { stream, event } = summaryEvent(summary);
      try {
        await this.append(stream, event, systemMetadata(this.deps.ids), 'no_stream');
        recorded++;
      } catch (error) {
        if (!(error instanceof WrongExpectedRevision)) {
          failure ??= error;
          continue;
        }
        // Recorded already, by another instance or an earlier try.
      }
      await this.deps.counters.settleRefused(summary);
    }
    if (failure !== undefined) throw failure;
    return recorded;
  }

  private async append(
    stream: string,
    event: DefenderEvent,
    metadata: EventMetadata,
    expectedRevision: 'no_stream' | number,
  ): Promise<void> {
    await this.deps.store.appendToStream(stream, [toNewEvent(event, metadata)], { expectedRevision });
  }
}
