/**
 * The sign-in defender, shared by every protocol (HTTP sign-in calls, SSH password and key) and
 * every instance (its counters live in PostgreSQL): failures that look like guessing count per
 * source address and per user name; enough of them within the window ban the key for a time
 * that doubles with each repeat. A ban is an event (SignInBanned), so is lifting it; attempts
 * refused during a ban are counted, not recorded one by one, and summed into one
 * SignInAttemptsRefused per key and summary.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { banLength, countsAsGuessing, type DefenderPolicy } from '../domain/defender/policy.js';
import type { EventStore } from '../domain/event-store.js';
import { type EventOfType, toNewEvent } from '../domain/events/catalogue.js';
import type { EventMetadata } from '../domain/events/envelope.js';
import { foldCase } from '../domain/users/reservation.js';
import { metadataFor } from './metadata.js';
import type { Ban, BanScope, Clock, DefenderStore, IdGenerator, RequestContext } from './ports.js';

type Reason = EventOfType<'SignInFailed'>['data']['reason'];

export interface DefenderDeps {
  readonly store: EventStore;
  readonly counters: DefenderStore;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly policy: DefenderPolicy;
  /** Told of each ban started and each attempt refused (metrics). */
  readonly onBan?: (ban: Ban) => void;
  readonly onRefused?: (scope: BanScope) => void;
}

function allowList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', prefix] = entry.split('/');
    const type = isIPv6(address) ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return list;
}

export class SignInDefender {
  private readonly allowed: BlockList;

  constructor(private readonly deps: DefenderDeps) {
    this.allowed = allowList(deps.policy.allowList);
  }

  private isAllowed(address: string): boolean {
    const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
    if (isIPv4(plain)) return this.allowed.check(plain, 'ipv4');
    return isIPv6(plain) && this.allowed.check(plain, 'ipv6');
  }

  private keys(address: string, userName: string | null) {
    return [
      { scope: 'address' as const, key: address },
      ...(userName === null || userName === '' ? [] : [{ scope: 'user' as const, key: foldCase(userName) }]),
    ];
  }

  /** The ban refusing this attempt, if one holds (the refusal is counted for the next summary). */
  async banned(address: string, userName: string | null): Promise<Ban | undefined> {
    if (this.isAllowed(address)) return undefined;
    const ban = await this.deps.counters.refuse(this.keys(address, userName), this.deps.clock.now());
    if (ban) this.deps.onRefused?.(ban.scope);
    return ban;
  }

  /** Counts a recorded failure; a failure that starts a ban records SignInBanned. */
  async failed(
    address: string,
    userName: string | null,
    reason: Reason,
    context: RequestContext,
  ): Promise<void> {
    if (!countsAsGuessing(reason) || this.isAllowed(address)) return;
    const { policy } = this.deps;
    const now = this.deps.clock.now();
    for (const { scope, key } of this.keys(address, userName)) {
      const ban = await this.deps.counters.fail(scope, key, now, {
        max: scope === 'address' ? policy.maxFailuresPerAddress : policy.maxFailuresPerUser,
        windowMs: policy.windowMs,
        banLength: (n) => banLength(policy, n),
      });
      if (!ban) continue;
      this.deps.onBan?.(ban);
      await this.append(
        {
          type: 'SignInBanned',
          data: {
            scope,
            key,
            failures: ban.failures,
            banNumber: ban.banNumber,
            until: ban.until.toISOString(),
          },
        },
        metadataFor(context, {}),
      );
    }
  }

  list(): Promise<Ban[]> {
    return this.deps.counters.list(this.deps.clock.now());
  }

  /** An admin lifts a ban; false when none held. Recorded as SignInBanLifted. */
  async lift(scope: BanScope, key: string, context: RequestContext): Promise<boolean> {
    const liftedBy = context.actor?.userId;
    if (liftedBy === undefined) throw new Error('lifting a ban needs a signed-in admin');
    const normalized = scope === 'user' ? foldCase(key) : key;
    if (!(await this.deps.counters.lift(scope, normalized, this.deps.clock.now()))) return false;
    await this.append(
      { type: 'SignInBanLifted', data: { scope, key: normalized, liftedBy } },
      metadataFor(context, {}),
    );
    return true;
  }

  /** Records the attempts refused during bans since the last summary; resolves with how many events. */
  async summarize(): Promise<number> {
    const taken = await this.deps.counters.takeRefused();
    for (const { scope, key, count, from, to } of taken) {
      await this.append(
        {
          type: 'SignInAttemptsRefused',
          data: { scope, key, count, from: from.toISOString(), to: to.toISOString() },
        },
        { envelopeVersion: 1, correlationId: this.deps.ids.uuid(), actor: {} },
      );
    }
    return taken.length;
  }

  private async append(
    event: EventOfType<'SignInBanned' | 'SignInBanLifted' | 'SignInAttemptsRefused'>,
    metadata: EventMetadata,
  ): Promise<void> {
    const stream = `signin-defender-${event.data.scope}-${this.deps.ids.uuid()}`;
    await this.deps.store.appendToStream(stream, [toNewEvent(event, metadata)], {
      expectedRevision: 'no_stream',
    });
  }
}
