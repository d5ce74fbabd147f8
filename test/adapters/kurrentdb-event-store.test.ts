/**
 * KurrentDbEventStore's own logic, without a KurrentDB server: the store runs on an in-memory
 * stand-in for @eventstore/db-client that behaves as the client and server do where the store
 * depends on it (the sources are cited in src/adapters/eventstore/kurrentdb/position.ts):
 *
 * - each event of an append gets its own `$all` position (commit = prepare = a log byte offset),
 *   growing in log order, and stream reads carry it too;
 * - `readAll` forwards starts AT the given position (inclusive), backwards strictly before it;
 *   a subscription starts strictly after it, and applies its server-side filter;
 * - a failed expected-revision check is a `WrongExpectedVersionError` built as the client builds it;
 * - a subscription is an object-mode Readable that emits the client's errors.
 *
 * What this cannot show is that a real server behaves so: `npm run test:kurrentdb` runs the same
 * conformance suite against one.
 */
import assert from 'node:assert/strict';
import { Readable, type ReadableOptions } from 'node:stream';
import { describe, it } from 'node:test';
import {
  AccessDeniedError,
  type AllStreamResolvedEvent,
  type AppendExpectedRevision,
  type AppendResult,
  type EventData,
  type Filter,
  type JSONType,
  type MetadataType,
  type Position,
  type ReadPosition,
  type ReadRevision,
  type ResolvedEvent,
  StreamNotFoundError,
  UnavailableError,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import {
  type KurrentClient,
  KurrentDbEventStore,
  type KurrentSubscription,
} from '../../src/adapters/eventstore/kurrentdb/kurrentdb-event-store.js';
import type { EventStore, RecordedEvent } from '../../src/domain/event-store.js';
import {
  describeEventStoreConformance,
  type EventStoreFactory,
  newEvent,
  readEverything,
} from '../conformance/event-store.conformance.js';

interface FakeRecord {
  readonly streamId: string;
  readonly id: string;
  readonly revision: bigint;
  readonly type: string;
  readonly created: Date;
  readonly data: JSONType;
  readonly metadata: MetadataType | undefined;
  readonly isJson: true;
  readonly position: Position;
}

function compare(a: Position, b: Position): number {
  return a.commit === b.commit ? 0 : a.commit < b.commit ? -1 : 1;
}

function matches(filter: Filter, record: FakeRecord): boolean {
  const subject = filter.filterOn === 'streamName' ? record.streamId : record.type;
  if ('prefixes' in filter) return filter.prefixes.some((p) => subject.startsWith(p));
  return new RegExp(filter.regex).test(subject);
}

/** An in-memory KurrentDB behind the client's interface. */
class FakeKurrent implements KurrentClient {
  readonly log: FakeRecord[] = [];
  readonly subscribedFrom: ReadPosition[] = [];
  /**
   * What the next subscriptions do, one entry each: fail after delivering n events, or fail at
   * once as while the server is down. Subscriptions beyond the plan work.
   */
  subscriptionPlan: Array<number | 'down'> = [];
  /** When set, new subscriptions fail with this error. */
  subscriptionError: Error | undefined;
  private nextPosition = 1234n;
  private readonly revisions = new Map<string, bigint>();
  private readonly live = new Set<() => void>();

  private write(streamId: string, type: string, data: unknown, metadata: unknown, id: string): FakeRecord {
    const revision = (this.revisions.get(streamId) ?? -1n) + 1n;
    this.revisions.set(streamId, revision);
    const position = { commit: this.nextPosition, prepare: this.nextPosition };
    // A record takes its header and payload bytes: positions are offsets with gaps.
    this.nextPosition += 90n + BigInt(JSON.stringify(data).length + JSON.stringify(metadata ?? null).length);
    const record: FakeRecord = {
      streamId,
      id,
      revision,
      type,
      created: new Date(),
      data: JSON.parse(JSON.stringify(data)) as JSONType,
      metadata: metadata === undefined ? undefined : (JSON.parse(JSON.stringify(metadata)) as JSONType),
      isJson: true,
      position,
    };
    this.log.push(record);
    return record;
  }

  /** A system event, as KurrentDB writes them (stats, settings, scavenges). */
  systemEvent(streamId = '$stats-127.0.0.1:2113', type = '$statsCollected'): void {
    this.write(streamId, type, { cpu: 1 }, undefined, crypto.randomUUID());
    for (const wake of this.live) wake();
  }

  async appendToStream(
    streamName: string,
    events: EventData[],
    options: { expectedRevision: AppendExpectedRevision },
  ): Promise<AppendResult> {
    // A round trip: other work (a subscriber) runs meanwhile, as it does against a server.
    await new Promise((resolve) => setImmediate(resolve));
    const current = this.revisions.get(streamName);
    const expected = options.expectedRevision;
    const ok =
      expected === 'any' ||
      (expected === 'no_stream' && current === undefined) ||
      (expected === 'stream_exists' && current !== undefined) ||
      (typeof expected === 'bigint' && current === expected);
    if (!ok) {
      throw new WrongExpectedVersionError(undefined, {
        streamName,
        expected,
        current: current ?? 'no_stream',
      });
    }
    let last: FakeRecord | undefined;
    for (const event of events)
      last = this.write(streamName, event.type, event.data, event.metadata, event.id);
    for (const wake of this.live) wake();
    return { success: true, nextExpectedRevision: last!.revision, position: last!.position };
  }

  readStream(
    streamName: string,
    options: { fromRevision: ReadRevision; maxCount: number | bigint; direction: 'forwards' | 'backwards' },
  ): AsyncIterable<ResolvedEvent> {
    const fake = this;
    return (async function* () {
      await Promise.resolve();
      const last = fake.revisions.get(streamName);
      if (last === undefined) throw new StreamNotFoundError(undefined, streamName);
      const events = fake.log.filter((r) => r.streamId === streamName);
      const max = Number(options.maxCount);
      const picked =
        options.direction === 'forwards'
          ? events.filter(
              (r) => options.fromRevision === 'start' || r.revision >= (options.fromRevision as bigint),
            )
          : events
              .filter((r) => options.fromRevision === 'end' || r.revision <= (options.fromRevision as bigint))
              .reverse();
      for (const record of picked.slice(0, max))
        yield { event: record, commitPosition: record.position.commit };
    })();
  }

  readAll(options: {
    fromPosition: ReadPosition;
    maxCount: number | bigint;
    direction: 'forwards' | 'backwards';
  }): AsyncIterable<AllStreamResolvedEvent> & { cancel(): Promise<void> } {
    const fake = this;
    const generator = (async function* () {
      await Promise.resolve();
      const from = options.fromPosition;
      const max = Number(options.maxCount);
      const picked =
        options.direction === 'forwards'
          ? fake.log.filter((r) => from === 'start' || (from !== 'end' && compare(r.position, from) >= 0))
          : fake.log
              .filter((r) => from === 'end' || (from !== 'start' && compare(r.position, from) < 0))
              .reverse();
      for (const record of picked.slice(0, max))
        yield { event: record, commitPosition: record.position.commit };
    })();
    return Object.assign(generator, { cancel: async () => undefined });
  }

  subscribeToAll(
    options: { fromPosition: ReadPosition; filter: Filter },
    readableOptions: ReadableOptions,
  ): KurrentSubscription {
    this.subscribedFrom.push(options.fromPosition);
    const from = options.fromPosition;
    let next =
      from === 'start' ? 0 : this.log.findIndex((r) => from !== 'end' && compare(r.position, from) > 0);
    if (next < 0) next = this.log.length;
    let delivered = 0;
    const plan = this.subscriptionPlan.shift();
    const failAfter = typeof plan === 'number' ? plan : undefined;
    const failWith =
      plan === 'down'
        ? new UnavailableError(undefined, '14 UNAVAILABLE: No connection established')
        : this.subscriptionError;
    // A subscription that fails at once delivers nothing.
    let stopped = failWith !== undefined;
    const pump = () => {
      while (!stopped && next < this.log.length) {
        if (failAfter !== undefined && delivered === failAfter) {
          stopped = true;
          subscription.emit('error', new UnavailableError(undefined, '14 UNAVAILABLE: Connection dropped'));
          return;
        }
        const record = this.log[next]!;
        next += 1;
        if (!matches(options.filter, record)) continue;
        delivered += 1;
        if (!subscription.push({ event: record, commitPosition: record.position.commit })) return;
      }
    };
    const subscription = Object.assign(
      new Readable({ ...readableOptions, objectMode: true, read: () => pump() }),
      {
        unsubscribe: async () => {
          stopped = true;
          this.live.delete(pump);
        },
      },
    );
    if (failWith) {
      setImmediate(() => subscription.emit('error', failWith));
    } else {
      this.live.add(pump);
    }
    return subscription;
  }

  async dispose(): Promise<void> {
    this.live.clear();
  }
}

function fakeFactory(): EventStoreFactory {
  return {
    supportsCommitDelay: false,
    async create() {
      const fake = new FakeKurrent();
      fake.systemEvent('$settings', '$settings');
      const stores: EventStore[] = [];
      const open = () => {
        const store = new KurrentDbEventStore({ client: fake, streamPrefix: 'sluice-' });
        stores.push(store);
        return store;
      };
      return {
        store: open(),
        reopen: async () => open(),
        async dispose() {
          await Promise.all(stores.map((s) => s.close()));
        },
      };
    },
  };
}

describeEventStoreConformance('KurrentDB adapter on an in-memory stand-in for the client', fakeFactory());

const warnings: string[] = [];
const logger = { info: () => undefined, warn: (_obj: object, msg: string) => void warnings.push(msg) };

async function take(iterator: AsyncIterator<RecordedEvent[]>, count: number): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  while (events.length < count) {
    const next = await iterator.next();
    if (next.done) throw new Error(`subscription ended after ${events.length} events`);
    events.push(...next.value);
  }
  return events;
}

describe('KurrentDbEventStore subscriptions on an in-memory stand-in', () => {
  it('re-subscribe after the connection drops, from the last delivered position, losing and repeating nothing', async () => {
    const fake = new FakeKurrent();
    const store = new KurrentDbEventStore({ client: fake, logger, retry: { initialMs: 1, maxMs: 5 } });
    const appended = Array.from({ length: 10 }, (_, i) => newEvent('N', i));
    for (const event of appended.slice(0, 7)) {
      await store.appendToStream(`s-${(event.data as number) % 3}`, [event]);
      fake.systemEvent();
    }
    // The first subscription drops after 4 events, the second after 2 more; then the server is
    // down for 3 attempts before it answers again.
    fake.subscriptionPlan = [4, 2, 'down', 'down', 'down'];
    const controller = new AbortController();
    const iterator = store
      .subscribeToAll({ signal: controller.signal, batchSize: 3 })
      [Symbol.asyncIterator]();
    const first = await take(iterator, 6);
    for (const event of appended.slice(7)) await store.appendToStream('s-live', [event]);
    const rest = await take(iterator, 10 - first.length);
    controller.abort();
    assert.equal((await iterator.next()).done, true);

    const received = [...first, ...rest];
    assert.deepEqual(
      received.map((e) => e.eventId),
      appended.map((e) => e.eventId),
      'every event once, in order',
    );
    for (let i = 1; i < received.length; i++) {
      assert.ok(received[i]!.globalPosition > received[i - 1]!.globalPosition);
    }
    // Each re-subscription started exactly after the last delivered event.
    const resumedFrom = fake.subscribedFrom
      .slice(1)
      .map((p) => (typeof p === 'string' ? p : Number(p.commit)));
    const at = (i: number) => received[i]!.globalPosition;
    assert.deepEqual(resumedFrom, [at(3), at(5), at(5), at(5), at(5)]);
    assert.equal(fake.subscribedFrom[0], 'start');
    assert.ok(warnings.some((w) => w.includes('resubscribing after position')));
    await store.close();
  });

  it('an error another attempt cannot cure (access denied) ends the iteration with it', async () => {
    const fake = new FakeKurrent();
    fake.subscriptionError = new AccessDeniedError(undefined, 'Access denied');
    const store = new KurrentDbEventStore({ client: fake, retry: { initialMs: 1, maxMs: 5 } });
    await assert.rejects(async () => {
      for await (const _ of store.subscribeToAll()) break;
    }, AccessDeniedError);
    await store.close();
  });

  it('close() ends a subscription waiting for events', async () => {
    const fake = new FakeKurrent();
    const store = new KurrentDbEventStore({ client: fake });
    const iterator = store.subscribeToAll()[Symbol.asyncIterator]();
    const waiting = iterator.next();
    await store.close();
    assert.deepEqual(await waiting, { done: true, value: undefined });
  });

  it('asks the server to filter: system event types without a prefix, the stream prefix with one', async () => {
    const fake = new FakeKurrent();
    const plain = new KurrentDbEventStore({ client: fake });
    const prefixed = new KurrentDbEventStore({ client: fake, streamPrefix: 'tenant-a-' });
    const filters: Filter[] = [];
    const original = fake.subscribeToAll.bind(fake);
    fake.subscribeToAll = (options, readableOptions) => {
      filters.push(options.filter);
      return original(options, readableOptions);
    };
    await plain.appendToStream('x', [newEvent('X', 1)]);
    for (const store of [plain, prefixed]) {
      const iterator = store.subscribeToAll({ after: 0 })[Symbol.asyncIterator]();
      const pending = iterator.next();
      await prefixed.appendToStream('y', [newEvent('Y', 1)]);
      await pending;
      await iterator.return?.(undefined);
    }
    assert.deepEqual(
      filters.map((f) => ({
        filterOn: f.filterOn,
        ...('regex' in f ? { regex: f.regex } : { prefixes: f.prefixes }),
      })),
      [
        { filterOn: 'eventType', regex: '^[^$].*' },
        { filterOn: 'streamName', prefixes: ['tenant-a-'] },
      ],
    );
    await plain.close();
  });
});

describe('KurrentDbEventStore reads on an in-memory stand-in', () => {
  it('skips system events and other prefixes in readAll, headPosition and subscriptions alike', async () => {
    const fake = new FakeKurrent();
    const a = new KurrentDbEventStore({ client: fake, streamPrefix: 'a-' });
    const b = new KurrentDbEventStore({ client: fake, streamPrefix: 'b-' });
    const plain = new KurrentDbEventStore({ client: fake });
    fake.systemEvent();
    const a1 = await a.appendToStream('s', [newEvent('A', 1), newEvent('A', 2)]);
    fake.systemEvent('$scavenges', '$scavengeStarted');
    await b.appendToStream('s', [newEvent('B', 1)]);
    fake.systemEvent('$$a-s', '$metadata');
    fake.systemEvent('$ce-a', '$>');
    assert.deepEqual(
      (await a.readAll()).map((e) => [e.streamId, e.data]),
      [
        ['s', 1],
        ['s', 2],
      ],
    );
    assert.equal(await a.headPosition(), a1.lastPosition, 'the head skips later system events and b-');
    assert.deepEqual(
      (await plain.readAll()).map((e) => e.streamId),
      ['a-s', 'a-s', 'b-s'],
    );
    assert.deepEqual(await b.readStream('absent'), []);
    assert.deepEqual(
      (await readEverything(a, 1)).map((e) => e.data),
      [1, 2],
      'pages of one',
    );
    // A long run of foreign events between two of ours: the client-side scan pages through it.
    for (let i = 0; i < 300; i++) fake.systemEvent();
    const a2 = await a.appendToStream('s', [newEvent('A', 3)]);
    assert.deepEqual(
      (await a.readAll({ after: a1.lastPosition })).map((e) => e.data),
      [3],
    );
    assert.equal(await a.headPosition(), a2.lastPosition);
    for (let i = 0; i < 300; i++) fake.systemEvent();
    assert.equal(await a.headPosition(), a2.lastPosition);
    await Promise.all([a.close(), b.close(), plain.close()]);
  });

  it('refuses stream ids and event types KurrentDB reserves ($), and unserialisable data, before sending', async () => {
    const fake = new FakeKurrent();
    const store = new KurrentDbEventStore({ client: fake });
    await assert.rejects(store.appendToStream('$settings', [newEvent('A', 1)]), RangeError);
    await assert.rejects(store.appendToStream('s', [newEvent('$metadata', 1)]), RangeError);
    await assert.rejects(store.appendToStream('s', [newEvent('A', { n: 1n })]), TypeError);
    assert.equal(fake.log.length, 0);
  });
});
