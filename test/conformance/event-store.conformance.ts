/**
 * The EventStore conformance suite: every adapter of the port in src/domain/event-store.ts
 * runs it (test/conformance/<adapter>.test.ts calls `describeEventStoreConformance`).
 *
 * Each case gets a fresh, empty store from the adapter's factory. Waits for a subscriber are
 * driven by promises; a case that never sees what it waits for fails through its test
 * timeout, never through a timing threshold. The one bounded wait (`GRACE_MS` in the
 * late-commit case) only gives a subscriber the chance to misbehave; a correct adapter
 * passes however slow the machine is.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { v7 as uuidv7 } from 'uuid';
import {
  type AppendResult,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type RecordedEvent,
  type SubscribeOptions,
  WrongExpectedRevision,
} from '../../src/domain/event-store.js';
import type { EventMetadata } from '../../src/domain/events/envelope.js';

// ---------------------------------------------------------------------------------------------
// The adapter-neutral factory interface

export interface HarnessOptions {
  /**
   * Runs inside each append's transaction after its events are written (and positioned) and
   * before it commits; the append commits when the promise resolves. Only honoured by
   * factories with `supportsCommitDelay`.
   */
  readonly commitDelay?: (streamId: string) => Promise<void>;
}

export interface EventStoreHarness {
  /** A store on fresh, empty backing data. */
  readonly store: EventStore;
  /** A new store instance on the same backing data (a process restart); `dispose` closes it too. */
  reopen(): Promise<EventStore>;
  /** Closes every store it made and removes the backing data. */
  dispose(): Promise<void>;
}

export interface EventStoreFactory {
  /**
   * Whether `create` honours `commitDelay`. An adapter that cannot hold an append open
   * (KurrentDB) says false: the no-skip test then runs its concurrent writers without delays
   * and the deterministic late-commit case is skipped.
   */
  readonly supportsCommitDelay: boolean;
  create(options?: HarnessOptions): Promise<EventStoreHarness>;
}

// ---------------------------------------------------------------------------------------------
// Helpers (exported for adapter-specific tests)

/** How long the late-commit case gives a subscriber to deliver what it must not deliver yet. */
export const GRACE_MS = 250;

export function metadata(overrides: Partial<EventMetadata> = {}): EventMetadata {
  return { envelopeVersion: 1, correlationId: randomUUID(), actor: {}, ...overrides };
}

export function newEvent(type: string, data: unknown, eventId: string = uuidv7()): NewEvent {
  return { eventId, type, data, metadata: metadata() };
}

export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Every event `readAll` returns now, paging by `after`. */
export async function readEverything(store: EventStore, pageSize = 1000): Promise<RecordedEvent[]> {
  const all: RecordedEvent[] = [];
  let after = 0;
  for (;;) {
    const page = await store.readAll({ after, limit: pageSize });
    if (page.length === 0) return all;
    all.push(...page);
    after = page[page.length - 1]!.globalPosition;
  }
}

/** One subscription, pulled by hand: it asks for a batch only when the test does. */
export class Subscriber {
  readonly events: RecordedEvent[] = [];
  readonly batchSizes: number[] = [];
  ended = false;
  private readonly controller = new AbortController();
  private readonly iterator: AsyncIterator<RecordedEvent[]>;
  private pending: Promise<void> | undefined;

  constructor(store: EventStore, options: Omit<SubscribeOptions, 'signal'> = {}) {
    this.iterator = store
      .subscribeToAll({ ...options, signal: this.controller.signal })
      [Symbol.asyncIterator]();
  }

  /** Asks for the next batch (one request at a time); resolves when it arrived or the iteration ended. */
  pull(): Promise<void> {
    this.pending ??= this.iterator.next().then(
      (result) => {
        this.pending = undefined;
        if (result.done) {
          this.ended = true;
        } else {
          this.batchSizes.push(result.value.length);
          this.events.push(...result.value);
        }
      },
      (error: unknown) => {
        this.pending = undefined;
        throw error;
      },
    );
    return this.pending;
  }

  /** Pulls batches until `done` holds; throws if the iteration ends first. */
  async until(done: (events: readonly RecordedEvent[]) => boolean): Promise<RecordedEvent[]> {
    while (!done(this.events)) {
      if (this.ended) throw new Error(`subscription ended after ${this.events.length} events`);
      await this.pull();
    }
    return this.events;
  }

  /** Pulls until the event with this id has arrived. */
  untilEvent(eventId: string): Promise<RecordedEvent[]> {
    return this.until((events) => events.some((e) => e.eventId === eventId));
  }

  /** Gives the subscription `ms` to deliver a batch; whether it did is in `events`. */
  async pullFor(ms: number): Promise<void> {
    await Promise.race([this.pull(), sleep(ms)]);
  }

  async stop(): Promise<void> {
    this.controller.abort();
    await this.pending?.catch(() => undefined);
    await this.iterator.return?.();
  }
}

function ids(events: readonly { readonly eventId?: string }[]): string[] {
  return events.map((e) => {
    assert.ok(e.eventId, 'event without id');
    return e.eventId;
  });
}

function assertStrictlyIncreasing(events: readonly RecordedEvent[], what: string): void {
  for (let i = 1; i < events.length; i++) {
    const previous = events[i - 1]!.globalPosition;
    const current = events[i]!.globalPosition;
    if (current <= previous) {
      assert.fail(
        `${what}: position ${current} (event ${i}) follows ${previous}; positions must strictly grow`,
      );
    }
  }
}

async function assertWrongExpectedRevision(
  append: Promise<AppendResult>,
  streamId: string,
  expected: ExpectedRevision,
  actual: number | 'no_stream',
): Promise<void> {
  await assert.rejects(append, (error: unknown) => {
    assert.ok(error instanceof WrongExpectedRevision, `expected WrongExpectedRevision, got ${String(error)}`);
    assert.deepEqual(
      { streamId: error.streamId, expected: error.expected, actual: error.actual },
      { streamId, expected, actual },
    );
    return true;
  });
}

/** A small seeded PRNG (mulberry32), so a failing no-skip run can be replayed with its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function withHarness(
  factory: EventStoreFactory,
  options: HarnessOptions | undefined,
  run: (harness: EventStoreHarness) => Promise<void>,
): Promise<void> {
  const harness = await factory.create(options);
  try {
    await run(harness);
  } finally {
    await harness.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// Scenarios that adapter-specific tests reuse

const LATE_A = 'late-a';
const LATE_B = 'late-b';

/**
 * Transaction A appends and is held open; B appends and commits; nothing past A may be read
 * or delivered until A commits; then both arrive, in position order, exactly once. Throws an
 * AssertionError when the store reads past a transaction that has not committed yet.
 * Needs a factory that supports `commitDelay`.
 */
export async function lateCommitScenario(factory: EventStoreFactory): Promise<void> {
  const release = deferred();
  const aIsOpen = deferred();
  const harness = await factory.create({
    commitDelay: async (streamId) => {
      if (streamId !== LATE_A) return;
      aIsOpen.resolve();
      await release.promise;
    },
  });
  const store = harness.store;
  const subscriber = new Subscriber(store);
  let aAppend: Promise<AppendResult> | undefined;
  try {
    // The subscriber is live and has a checkpoint before the race starts.
    const early = newEvent('Early', { n: 0 });
    const earlyResult = await store.appendToStream('late-early', [early]);
    await subscriber.untilEvent(ids([early])[0]!);

    const a = newEvent('LateA', { n: 1 });
    const b = newEvent('LateB', { n: 2 });
    aAppend = store.appendToStream(LATE_A, [a]);
    aAppend.catch(() => undefined);
    await aIsOpen.promise; // A holds its position and has not committed.
    const bResult = await store.appendToStream(LATE_B, [b]);

    // While A is open: what a fresh read returns, where the head is, what the subscriber delivers.
    const readDuringHold = await store.readAll({ after: earlyResult.lastPosition });
    const headDuringHold = await store.headPosition();
    await subscriber.pullFor(GRACE_MS);
    const deliveredDuringHold = subscriber.events.slice(1);

    release.resolve();
    const aResult = await aAppend;
    const sentinel = newEvent('Sentinel', {});
    await store.appendToStream('late-sentinel', [sentinel]);
    await subscriber.untilEvent(ids([sentinel])[0]!);

    const aPosition = aResult.firstPosition;
    const past = (events: readonly RecordedEvent[]) =>
      events.filter((e) => e.globalPosition >= aPosition).map((e) => `${e.type}@${e.globalPosition}`);
    assert.deepEqual(
      past(readDuringHold),
      [],
      `readAll returned events at or past ${aPosition} while the transaction holding position ${aPosition} was still open: an event that commits late would be skipped`,
    );
    assert.ok(
      headDuringHold < aPosition,
      `headPosition was ${headDuringHold} while position ${aPosition} had not committed`,
    );
    assert.deepEqual(
      past(deliveredDuringHold),
      [],
      `the subscriber delivered events at or past ${aPosition} before that position committed`,
    );

    const expectedOrder = [
      { id: ids([a])[0], position: aResult.firstPosition },
      { id: ids([b])[0], position: bResult.firstPosition },
    ]
      .sort((x, y) => x.position - y.position)
      .map((e) => e.id);
    const received = subscriber.events.slice(1);
    assert.deepEqual(
      ids(received),
      [...expectedOrder, ids([sentinel])[0]],
      'after A committed the subscriber must deliver A and B exactly once, in position order, then the sentinel',
    );
    assertStrictlyIncreasing(subscriber.events, 'late-commit subscription');
    if (aResult.firstPosition < bResult.firstPosition) {
      assert.equal(received[0]?.type, 'LateA', 'A holds the earlier position: it must be delivered first');
    }
    assert.deepEqual(
      ids(await readEverything(store)),
      ids(subscriber.events),
      'readAll and the subscription must agree',
    );
  } finally {
    release.resolve();
    await aAppend?.catch(() => undefined);
    await subscriber.stop();
    await harness.dispose();
  }
}

export interface NoSkipOptions {
  readonly writers?: number;
  readonly eventsPerWriter?: number;
  readonly seed?: number;
}

/**
 * Concurrent writers (own streams with exact expected revisions, shared streams with 'any'),
 * random 0–3 ms delays inside their transactions when the factory supports it, and a live
 * subscriber from before the first append: it must receive every event exactly once, in
 * strictly increasing position, with each stream's revisions in order.
 */
export async function noSkipScenario(factory: EventStoreFactory, options: NoSkipOptions = {}): Promise<void> {
  const writers = options.writers ?? 8;
  const perWriter = options.eventsPerWriter ?? 2000;
  const seed = options.seed ?? Number(process.env.SLUICE_CONFORMANCE_SEED ?? Date.now() % 2 ** 31);
  const random = prng(seed);
  const delayRandom = prng(seed ^ 0x5bd1e995);
  const context = `(seed ${seed}; replay with SLUICE_CONFORMANCE_SEED=${seed})`;
  const commitDelay = factory.supportsCommitDelay
    ? (_streamId: string) => {
        const ms = Math.floor(delayRandom() * 4);
        return ms === 0 ? Promise.resolve() : sleep(ms).then(() => undefined);
      }
    : undefined;
  const batchSize = 500;

  await withHarness(factory, { commitDelay }, async ({ store }) => {
    const subscriber = new Subscriber(store, { batchSize });
    const sentinel = newEvent('NoSkipSentinel', {});
    // A consumer that keeps pulling from before the first append until the sentinel arrives.
    const consumed = subscriber.untilEvent(ids([sentinel])[0]!);
    consumed.catch(() => undefined);
    try {
      const shared = ['noskip-shared-0', 'noskip-shared-1', 'noskip-shared-2'];
      const appends: { streamId: string; eventIds: string[]; result: AppendResult }[] = [];

      const writer = async (w: number) => {
        const own = `noskip-own-${w}`;
        let ownRevision: ExpectedRevision = 'no_stream';
        let seq = 0;
        while (seq < perWriter) {
          const size = Math.min(perWriter - seq, random() < 0.1 ? 2 + Math.floor(random() * 3) : 1);
          const toShared = random() < 0.3;
          const streamId = toShared ? shared[Math.floor(random() * shared.length)]! : own;
          const events = Array.from({ length: size }, (_, k) =>
            newEvent('NoSkipProbe', { writer: w, seq: seq + k, streamId }),
          );
          const result = await store.appendToStream(streamId, events, {
            expectedRevision: toShared ? 'any' : ownRevision,
          });
          if (!toShared) ownRevision = result.nextExpectedRevision;
          appends.push({ streamId, eventIds: ids(events), result });
          seq += size;
        }
      };
      await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));

      await store.appendToStream('noskip-sentinel', [sentinel]);
      await consumed;

      const received = subscriber.events;
      const total = writers * perWriter;
      const byId = new Map<string, { event: RecordedEvent; index: number }>();
      const duplicates: string[] = [];
      received.forEach((event, index) => {
        if (byId.has(event.eventId)) duplicates.push(event.eventId);
        byId.set(event.eventId, { event, index });
      });
      assert.deepEqual(duplicates.slice(0, 5), [], `events delivered more than once ${context}`);
      const missing = appends.flatMap((a) => a.eventIds).filter((id) => !byId.has(id));
      assert.equal(
        missing.length,
        0,
        `${missing.length} of ${total} appended events were never delivered (skipped) ${context}`,
      );
      assert.equal(received.length, total + 1, `delivered ${received.length} events, expected ${total + 1}`);
      assertStrictlyIncreasing(received, `no-skip subscription ${context}`);
      const oversized = subscriber.batchSizes.filter((n) => n > batchSize || n === 0);
      assert.deepEqual(oversized, [], `batches must hold 1–${batchSize} events`);
      // The subscriber was live during the writes, not only catching up at the end.
      assert.ok(subscriber.batchSizes.length > 2 * Math.ceil(received.length / batchSize), 'too few batches');

      // Each append arrives whole, adjacent, at the positions its result named.
      for (const { streamId, eventIds, result } of appends) {
        const found = eventIds.map((id) => byId.get(id)!);
        const first = found[0]!;
        const last = found[found.length - 1]!;
        assert.equal(last.index - first.index, eventIds.length - 1, `an append was split ${context}`);
        assert.equal(first.event.globalPosition, result.firstPosition, `firstPosition mismatch ${context}`);
        assert.equal(last.event.globalPosition, result.lastPosition, `lastPosition mismatch ${context}`);
        assert.equal(last.event.streamRevision, result.nextExpectedRevision);
        assert.ok(found.every((f) => f.event.streamId === streamId));
      }

      // Per stream, revisions arrive as 0, 1, 2, … ; per writer, its events in the order it wrote them.
      const nextRevision = new Map<string, number>();
      const nextSeq = new Map<number, number>();
      for (const event of received) {
        const expectedRevision = nextRevision.get(event.streamId) ?? 0;
        if (event.streamRevision !== expectedRevision) {
          assert.fail(
            `stream ${event.streamId}: revision ${event.streamRevision} delivered where ${expectedRevision} was due ${context}`,
          );
        }
        nextRevision.set(event.streamId, expectedRevision + 1);
        if (event.type !== 'NoSkipProbe') continue;
        const data = event.data as { writer: number; seq: number; streamId: string };
        assert.equal(data.streamId, event.streamId);
        const expectedSeq = nextSeq.get(data.writer) ?? 0;
        if (data.seq !== expectedSeq) {
          assert.fail(
            `writer ${data.writer}: event ${data.seq} delivered where ${expectedSeq} was due ${context}`,
          );
        }
        nextSeq.set(data.writer, expectedSeq + 1);
      }
      for (const streamId of shared) {
        const stream = await store.readStream(streamId);
        assert.equal(stream.length, nextRevision.get(streamId) ?? 0, `stream ${streamId} length`);
      }
      assert.deepEqual(
        ids(await readEverything(store, 5000)),
        ids(received),
        'readAll and the subscription agree',
      );
    } finally {
      await subscriber.stop();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// The suite

export function describeEventStoreConformance(adapterName: string, factory: EventStoreFactory): void {
  const delays = factory.supportsCommitDelay;
  const test = (name: string, run: (harness: EventStoreHarness) => Promise<void>, options?: HarnessOptions) =>
    it(name, { timeout: 60_000 }, () => withHarness(factory, options, run));

  describe(`EventStore conformance: ${adapterName}`, () => {
    describe('expected revision', () => {
      test("'any' creates a stream and appends to it; no option means 'any'", async ({ store }) => {
        const first = await store.appendToStream('s', [newEvent('A', 1), newEvent('A', 2)], {
          expectedRevision: 'any',
        });
        assert.equal(first.nextExpectedRevision, 1);
        const second = await store.appendToStream('s', [newEvent('A', 3)], { expectedRevision: 'any' });
        assert.equal(second.nextExpectedRevision, 2);
        const third = await store.appendToStream('s', [newEvent('A', 4)]);
        assert.equal(third.nextExpectedRevision, 3);
        const events = await store.readStream('s');
        assert.deepEqual(
          events.map((e) => [e.streamRevision, e.data]),
          [
            [0, 1],
            [1, 2],
            [2, 3],
            [3, 4],
          ],
        );
        assert.ok(second.firstPosition > first.lastPosition && third.firstPosition > second.lastPosition);
      });

      test("'no_stream' succeeds on a new stream and fails on an existing one", async ({ store }) => {
        const created = await store.appendToStream('s', [newEvent('A', 1)], {
          expectedRevision: 'no_stream',
        });
        assert.equal(created.nextExpectedRevision, 0);
        await assertWrongExpectedRevision(
          store.appendToStream('s', [newEvent('A', 2)], { expectedRevision: 'no_stream' }),
          's',
          'no_stream',
          0,
        );
        assert.deepEqual(
          (await store.readStream('s')).map((e) => e.data),
          [1],
        );
      });

      test("'stream_exists' fails on a new stream and succeeds on an existing one", async ({ store }) => {
        await assertWrongExpectedRevision(
          store.appendToStream('s', [newEvent('A', 1)], { expectedRevision: 'stream_exists' }),
          's',
          'stream_exists',
          'no_stream',
        );
        assert.deepEqual(await store.readStream('s'), []);
        assert.equal(await store.headPosition(), 0);
        await store.appendToStream('s', [newEvent('A', 1)], { expectedRevision: 'no_stream' });
        const result = await store.appendToStream('s', [newEvent('A', 2), newEvent('A', 3)], {
          expectedRevision: 'stream_exists',
        });
        assert.equal(result.nextExpectedRevision, 2);
        // 'no_stream' created it; a failed attempt must not have created it first.
        assert.deepEqual(
          (await store.readStream('s')).map((e) => e.data),
          [1, 2, 3],
        );
      });

      test('an exact revision succeeds when it matches and fails otherwise', async ({ store }) => {
        await assertWrongExpectedRevision(
          store.appendToStream('s', [newEvent('A', 0)], { expectedRevision: 0 }),
          's',
          0,
          'no_stream',
        );
        const r0 = await store.appendToStream('s', [newEvent('A', 1)], { expectedRevision: 'no_stream' });
        const r1 = await store.appendToStream('s', [newEvent('A', 2)], {
          expectedRevision: r0.nextExpectedRevision,
        });
        assert.equal(r1.nextExpectedRevision, 1);
        await assertWrongExpectedRevision(
          store.appendToStream('s', [newEvent('A', 'stale')], { expectedRevision: 0 }),
          's',
          0,
          1,
        );
        await assertWrongExpectedRevision(
          store.appendToStream('s', [newEvent('A', 'ahead')], { expectedRevision: 5 }),
          's',
          5,
          1,
        );
        const r2 = await store.appendToStream('s', [newEvent('A', 3), newEvent('A', 4)], {
          expectedRevision: 1,
        });
        assert.equal(r2.nextExpectedRevision, 3);
        assert.deepEqual(
          (await store.readStream('s')).map((e) => e.data),
          [1, 2, 3, 4],
        );
      });

      test('a conflict writes nothing anywhere', async ({ store }) => {
        await store.appendToStream('s', [newEvent('A', 1)]);
        await store.appendToStream('other', [newEvent('B', 1)]);
        const before = await readEverything(store);
        const head = await store.headPosition();
        await assertWrongExpectedRevision(
          store.appendToStream('s', [newEvent('A', 2), newEvent('A', 3), newEvent('A', 4)], {
            expectedRevision: 7,
          }),
          's',
          7,
          0,
        );
        await assertWrongExpectedRevision(
          store.appendToStream('fresh', [newEvent('A', 2), newEvent('A', 3)], {
            expectedRevision: 'stream_exists',
          }),
          'fresh',
          'stream_exists',
          'no_stream',
        );
        assert.deepEqual(ids(await readEverything(store)), ids(before));
        assert.equal(await store.headPosition(), head);
        assert.equal((await store.readStream('s')).length, 1);
        assert.deepEqual(await store.readStream('fresh'), []);
        // The stream's revision did not move either.
        const next = await store.appendToStream('s', [newEvent('A', 5)], { expectedRevision: 0 });
        assert.equal(next.nextExpectedRevision, 1);
      });

      test(
        'concurrent appends racing on the same expected revision: exactly one wins',
        async ({ store }) => {
          const contenders = 8;
          const race = async (streamId: string, expected: ExpectedRevision, actual: number) => {
            const attempts = Array.from({ length: contenders }, (_, i) => [
              newEvent('Race', { i, part: 0 }),
              newEvent('Race', { i, part: 1 }),
            ]);
            const outcomes = await Promise.allSettled(
              attempts.map((events) =>
                store.appendToStream(streamId, events, { expectedRevision: expected }),
              ),
            );
            const winners = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
            assert.equal(winners.length, 1, `${winners.length} of ${contenders} appends won on ${streamId}`);
            for (const outcome of outcomes) {
              if (outcome.status === 'fulfilled') continue;
              assert.ok(outcome.reason instanceof WrongExpectedRevision, String(outcome.reason));
              assert.deepEqual(
                [outcome.reason.streamId, outcome.reason.expected, outcome.reason.actual],
                [streamId, expected, actual],
              );
            }
            return attempts[winners[0]!]!;
          };

          const created = await race('fresh', 'no_stream', 1);
          assert.deepEqual(ids(await store.readStream('fresh')), ids(created));

          await store.appendToStream('existing', [newEvent('Seed', 0)]);
          const extended = await race('existing', 0, 2);
          const existing = await store.readStream('existing');
          assert.deepEqual(ids(existing.slice(1)), ids(extended));
          assert.deepEqual(
            existing.map((e) => e.streamRevision),
            [0, 1, 2],
          );
        },
        // Widen the race: each append holds its transaction open a little before committing.
        { commitDelay: delays ? () => sleep(5).then(() => undefined) : undefined },
      );
    });

    describe('atomic multi-event append', () => {
      test(
        'the events of one append get consecutive revisions and are adjacent in the global order',
        async ({ store }) => {
          const appends: { events: NewEvent[]; result: AppendResult; streamId: string }[] = [];
          const writer = async (w: number) => {
            for (let k = 0; k < 8; k++) {
              const streamId = k % 2 === 0 ? `own-${w}` : 'shared';
              const events = Array.from({ length: 2 + ((w + k) % 4) }, (_, i) =>
                newEvent('Part', { w, k, i }),
              );
              const result = await store.appendToStream(streamId, events);
              appends.push({ events, result, streamId });
            }
          };
          await Promise.all(Array.from({ length: 6 }, (_, w) => writer(w)));

          const all = await readEverything(store);
          assertStrictlyIncreasing(all, 'readAll');
          const index = new Map(all.map((e, i) => [e.eventId, i]));
          for (const { events, result, streamId } of appends) {
            const at = ids(events).map((id) => index.get(id));
            const first = at[0];
            assert.ok(first !== undefined);
            assert.deepEqual(
              at,
              at.map((_, i) => first + i),
              'an append is not adjacent in readAll',
            );
            const recorded = all.slice(first, first + events.length);
            assert.ok(recorded.every((e) => e.streamId === streamId));
            assert.deepEqual(
              recorded.map((e) => e.streamRevision),
              recorded.map((_, i) => result.nextExpectedRevision - events.length + 1 + i),
            );
            assert.equal(recorded[0]!.globalPosition, result.firstPosition);
            assert.equal(recorded[recorded.length - 1]!.globalPosition, result.lastPosition);
          }
          const shared = await store.readStream('shared');
          assert.deepEqual(
            shared.map((e) => e.streamRevision),
            shared.map((_, i) => i),
          );
        },
        { commitDelay: delays ? () => sleep(1).then(() => undefined) : undefined },
      );

      test('a failed append leaves none of its events', async ({ store }) => {
        await store.appendToStream('s', [newEvent('A', 1)]);
        await assertWrongExpectedRevision(
          store.appendToStream('s', [newEvent('A', 2), newEvent('A', 3), newEvent('A', 4)], {
            expectedRevision: 'no_stream',
          }),
          's',
          'no_stream',
          0,
        );
        // An event that cannot be serialised fails the whole append, not just itself.
        await assert.rejects(
          store.appendToStream('s', [newEvent('A', 5), newEvent('A', { bad: 10n })], { expectedRevision: 0 }),
        );
        assert.deepEqual(
          (await readEverything(store)).map((e) => e.data),
          [1],
        );
        const next = await store.appendToStream('s', [newEvent('A', 6)], { expectedRevision: 0 });
        assert.equal(next.nextExpectedRevision, 1);
      });
    });

    describe('reads', () => {
      test('readStream honours fromRevision and maxCount; an absent stream reads empty', async ({
        store,
      }) => {
        await store.appendToStream(
          's',
          Array.from({ length: 10 }, (_, i) => newEvent('N', i)),
        );
        await store.appendToStream('other', [newEvent('O', 'x')]);
        const revisions = async (options: { fromRevision?: number; maxCount?: number }) =>
          (await store.readStream('s', options)).map((e) => e.streamRevision);
        assert.deepEqual(await revisions({}), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert.deepEqual(await revisions({ fromRevision: 7 }), [7, 8, 9]);
        assert.deepEqual(await revisions({ maxCount: 3 }), [0, 1, 2]);
        assert.deepEqual(await revisions({ fromRevision: 4, maxCount: 2 }), [4, 5]);
        assert.deepEqual(await revisions({ fromRevision: 8, maxCount: 5 }), [8, 9]);
        assert.deepEqual(await revisions({ fromRevision: 10 }), []);
        assert.deepEqual(await store.readStream('absent'), []);
        assert.deepEqual(
          (await store.readStream('s')).map((e) => e.data),
          [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        );
      });

      test('readStream backwards: newest first, from a revision, bounded by maxCount', async ({ store }) => {
        await store.appendToStream(
          's',
          Array.from({ length: 6 }, (_, i) => newEvent('N', i)),
        );
        const revisions = async (options: { fromRevision?: number; maxCount?: number }) =>
          (await store.readStream('s', { ...options, backwards: true })).map((e) => e.streamRevision);
        assert.deepEqual(await revisions({}), [5, 4, 3, 2, 1, 0]);
        assert.deepEqual(await revisions({ maxCount: 1 }), [5]);
        assert.deepEqual(await revisions({ fromRevision: 3, maxCount: 2 }), [3, 2]);
        assert.deepEqual(await revisions({ fromRevision: 99, maxCount: 1 }), [5]);
        assert.deepEqual(await store.readStream('absent', { backwards: true, maxCount: 1 }), []);
      });

      test('readAll returns strictly increasing positions and pages by after/limit', async ({ store }) => {
        assert.deepEqual(await store.readAll(), []);
        for (let i = 0; i < 12; i++) {
          await store.appendToStream(`s-${i % 3}`, [newEvent('N', i), newEvent('N', i + 0.5)]);
        }
        const all = await store.readAll({ limit: 100 });
        assert.equal(all.length, 24);
        assertStrictlyIncreasing(all, 'readAll');
        assert.deepEqual(
          all.map((e) => e.data),
          Array.from({ length: 24 }, (_, i) => Math.floor(i / 2) + (i % 2) / 2),
        );

        const pages: RecordedEvent[][] = [];
        let after = 0;
        for (;;) {
          const page = await store.readAll({ after, limit: 5 });
          if (page.length === 0) break;
          assert.ok(page.length <= 5, `page of ${page.length} with limit 5`);
          assert.ok(page[0]!.globalPosition > after, 'after is exclusive');
          pages.push(page);
          after = page[page.length - 1]!.globalPosition;
        }
        assert.deepEqual(ids(pages.flat()), ids(all));
        assert.deepEqual(
          pages.map((p) => p.length),
          [5, 5, 5, 5, 4],
        );

        const middle = all[9]!.globalPosition;
        assert.deepEqual(ids(await store.readAll({ after: middle, limit: 100 })), ids(all.slice(10)));
        assert.deepEqual(ids(await store.readAll({ after: middle, limit: 3 })), ids(all.slice(10, 13)));
        assert.deepEqual(await store.readAll({ after: all[23]!.globalPosition }), []);
        // readStream and readAll decode an event the same way.
        const s0 = await store.readStream('s-0');
        assert.deepEqual(
          s0,
          all.filter((e) => e.streamId === 's-0'),
        );
      });

      test('headPosition is 0 when empty and then the last readable position', async ({ store }) => {
        assert.equal(await store.headPosition(), 0);
        const first = await store.appendToStream('a', [newEvent('A', 1), newEvent('A', 2)]);
        assert.equal(await store.headPosition(), first.lastPosition);
        const second = await store.appendToStream('b', [newEvent('B', 1)]);
        const head = await store.headPosition();
        assert.equal(head, second.lastPosition);
        const all = await readEverything(store);
        assert.equal(all[all.length - 1]!.globalPosition, head);
        assert.ok(first.firstPosition > 0, 'positions are positive');
        // A failed append does not move the head.
        await store.appendToStream('b', [newEvent('B', 2)], { expectedRevision: 9 }).catch(() => undefined);
        assert.equal(await store.headPosition(), head);
      });

      test('data and metadata round-trip: unicode, nested JSON, ids', async ({ store }) => {
        const data = {
          text: "Grüße 👋 — “quoted” 'single' \\ back\\slash\nnew line\ttab \u2028 e\u0301 שלום 日本語 👨‍👩‍👧",
          'ключ 🔑': { deeper: { deepest: [1, -2.5, 0, 1e21, Number.MAX_SAFE_INTEGER, 0.1] } },
          list: [{ a: null }, [], {}, [[['x']]], true, false, ''],
          empty: {},
          path: '/in/Ünïcödé dir/file (1).csv',
        };
        const meta: EventMetadata = {
          envelopeVersion: 1,
          correlationId: randomUUID(),
          causationId: 'cmd-Ä-1',
          actor: {
            userId: 42,
            applicationId: 7,
            sessionId: randomUUID(),
            clientIp: '2001:db8::1',
            clientPort: 65535,
            userString: 'Zoë Ångström 🛂',
          },
        };
        const given: NewEvent = { eventId: uuidv7(), type: 'Transfer.Completed-v2', data, metadata: meta };
        const scalars: NewEvent[] = [
          newEvent('Scalar', 'just a string ✓'),
          newEvent('Scalar', 12.75),
          newEvent('Scalar', [1, 'two', { three: 3 }]),
          newEvent('Scalar', null),
          newEvent('Scalar', true),
        ];
        const withoutId: NewEvent = { type: 'NoId', data: { x: 1 }, metadata: metadata() };
        const result = await store.appendToStream('round-trip', [given, ...scalars, withoutId]);

        const events = await store.readStream('round-trip');
        assert.equal(events.length, 7);
        const [first, ...rest] = events;
        assert.ok(first);
        assert.equal(first.eventId, given.eventId);
        assert.equal(first.type, given.type);
        assert.deepEqual(first.data, data);
        assert.deepEqual(first.metadata, meta);
        assert.equal(first.streamId, 'round-trip');
        assert.equal(first.globalPosition, result.firstPosition);
        assert.ok(first.recordedAt instanceof Date && !Number.isNaN(first.recordedAt.getTime()));
        assert.deepEqual(
          rest.slice(0, 5).map((e) => e.data),
          scalars.map((e) => e.data),
        );
        assert.deepEqual(ids(rest.slice(0, 5)), ids(scalars));
        const assigned = rest[5]!;
        assert.match(
          assigned.eventId,
          /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
        );
        assert.deepEqual(assigned.metadata, withoutId.metadata);
        // The same through readAll and through a subscription.
        assert.deepEqual(await store.readAll(), events);
        const subscriber = new Subscriber(store);
        try {
          assert.deepEqual(await subscriber.until((e) => e.length >= 7), events);
        } finally {
          await subscriber.stop();
        }
      });
    });

    describe('subscribeToAll', () => {
      test('from 0: catches up, then delivers events appended after subscribing', async ({ store }) => {
        const before = [newEvent('Before', 1), newEvent('Before', 2)];
        await store.appendToStream('a', before);
        const subscriber = new Subscriber(store);
        try {
          await subscriber.until((e) => e.length >= 2);
          assert.deepEqual(ids(subscriber.events), ids(before));
          const pending = subscriber.pull(); // waiting live
          const live1 = newEvent('Live', 1);
          await store.appendToStream('b', [live1]);
          await pending;
          const live2 = [newEvent('Live', 2), newEvent('Live', 3)];
          await store.appendToStream('a', live2);
          await subscriber.until((e) => e.length >= 5);
          assert.deepEqual(ids(subscriber.events), [...ids(before), ...ids([live1]), ...ids(live2)]);
          assertStrictlyIncreasing(subscriber.events, 'subscription');
        } finally {
          await subscriber.stop();
        }
      });

      test('on an empty store, waits and then delivers the first events', async ({ store }) => {
        const subscriber = new Subscriber(store);
        try {
          const pending = subscriber.pull();
          const first = newEvent('First', 1);
          await store.appendToStream('a', [first]);
          await pending;
          await subscriber.untilEvent(ids([first])[0]!);
          assert.deepEqual(ids(subscriber.events), ids([first]));
        } finally {
          await subscriber.stop();
        }
      });

      test('from a mid position: delivers exactly what follows it, then live events', async ({ store }) => {
        for (let i = 0; i < 5; i++)
          await store.appendToStream(`s-${i % 2}`, [newEvent('N', i), newEvent('N', i)]);
        const all = await readEverything(store);
        const checkpoint = all[3]!.globalPosition; // mid-append: after is a position, not an append
        const subscriber = new Subscriber(store, { after: checkpoint, batchSize: 4 });
        try {
          await subscriber.until((e) => e.length >= 6);
          assert.deepEqual(ids(subscriber.events), ids(all.slice(4)));
          const live = [newEvent('Live', 1), newEvent('Live', 2), newEvent('Live', 3)];
          await store.appendToStream('s-live', live);
          await subscriber.until((e) => e.length >= 9);
          assert.deepEqual(ids(subscriber.events), [...ids(all.slice(4)), ...ids(live)]);
          assert.ok(subscriber.events.every((e) => e.globalPosition > checkpoint));
          assertStrictlyIncreasing(subscriber.events, 'subscription');
        } finally {
          await subscriber.stop();
        }
      });

      test('the abort signal ends the iteration', async ({ store }) => {
        await store.appendToStream(
          'a',
          Array.from({ length: 6 }, (_, i) => newEvent('N', i)),
        );

        const preAborted = new AbortController();
        preAborted.abort();
        const none: RecordedEvent[][] = [];
        for await (const batch of store.subscribeToAll({ signal: preAborted.signal })) none.push(batch);
        assert.deepEqual(none, [], 'an aborted signal yields nothing');

        // Aborted while waiting live: the pending request ends the iteration.
        const live = new AbortController();
        const iterator = store.subscribeToAll({ signal: live.signal })[Symbol.asyncIterator]();
        const first = await iterator.next();
        assert.equal(first.done, false);
        assert.equal(first.done === false && first.value.length, 6);
        const waiting = iterator.next();
        live.abort();
        assert.deepEqual(await waiting, { done: true, value: undefined });
        assert.equal((await iterator.next()).done, true);

        // Aborted mid catch-up, between batches: no further batch.
        const midway = new AbortController();
        const received: RecordedEvent[] = [];
        for await (const batch of store.subscribeToAll({ signal: midway.signal, batchSize: 2 })) {
          received.push(...batch);
          if (received.length >= 2) midway.abort();
        }
        assert.equal(received.length, 2);

        // A for-await loop that breaks ends the subscription too (return()).
        let batches = 0;
        for await (const _ of store.subscribeToAll({ batchSize: 1 })) {
          batches++;
          break;
        }
        assert.equal(batches, 1);
      });

      test('back-pressure: batches never exceed batchSize and a slow consumer misses nothing', async ({
        store,
      }) => {
        for (let i = 0; i < 10; i++) {
          await store.appendToStream(
            `s-${i % 3}`,
            Array.from({ length: 5 }, (_, k) => newEvent('N', i * 5 + k)),
          );
        }
        const subscriber = new Subscriber(store, { batchSize: 7 });
        try {
          await subscriber.pull();
          assert.ok(subscriber.events.length >= 1 && subscriber.events.length <= 7);
          // The consumer is slow: more is appended while it sits on its first batch.
          const more = Array.from({ length: 4 }, (_, i) => newEvent('More', i));
          for (const event of more) await store.appendToStream('late', [event]);
          await subscriber.until((e) => e.length >= 54);
          assert.ok(
            subscriber.batchSizes.every((n) => n >= 1 && n <= 7),
            `batch sizes ${subscriber.batchSizes.join(',')} with batchSize 7`,
          );
          assert.ok(
            subscriber.batchSizes.length >= 8,
            'the log arrived in several batches, not buffered whole',
          );
          assert.deepEqual(ids(subscriber.events), ids(await readEverything(store)));
          assertStrictlyIncreasing(subscriber.events, 'subscription');
        } finally {
          await subscriber.stop();
        }
      });

      test('resume after restart: subscribing after a checkpoint delivers exactly the rest', async (harness) => {
        const store = harness.store;
        const appended: NewEvent[] = [];
        for (let i = 0; i < 12; i++) {
          const events = Array.from({ length: 1 + (i % 3) }, (_, k) => newEvent('Before', { i, k }));
          await store.appendToStream(`s-${i % 4}`, events);
          appended.push(...events);
        }
        // A consumer handles events one by one and stops at a checkpoint in the middle of a batch.
        const handled: RecordedEvent[] = [];
        for await (const batch of store.subscribeToAll({ batchSize: 4 })) {
          for (const event of batch) {
            if (handled.length === 10) break;
            handled.push(event);
          }
          if (handled.length === 10) break;
        }
        const checkpoint = handled[handled.length - 1]!.globalPosition;
        const beforeRestart = await store.readStream('s-1');
        await store.close();

        const reopened = await harness.reopen();
        assert.deepEqual(await reopened.readStream('s-1'), beforeRestart);
        const after: NewEvent[] = Array.from({ length: 5 }, (_, i) => newEvent('After', i));
        for (const event of after) await reopened.appendToStream('s-after', [event]);
        appended.push(...after);

        const subscriber = new Subscriber(reopened, { after: checkpoint, batchSize: 3 });
        try {
          await subscriber.until((e) => e.length >= appended.length - handled.length);
          assert.deepEqual(
            ids([...handled, ...subscriber.events]),
            ids(appended),
            'checkpoint + rest must be every event exactly once, in order',
          );
          // Nothing more is pending: a sentinel is the very next event.
          const sentinel = newEvent('Sentinel', {});
          await reopened.appendToStream('sentinel', [sentinel]);
          await subscriber.untilEvent(ids([sentinel])[0]!);
          assert.equal(subscriber.events.length, appended.length - handled.length + 1);
          assert.deepEqual(ids(await readEverything(reopened)), [...ids(appended), ...ids([sentinel])]);
        } finally {
          await subscriber.stop();
        }
      });
    });

    describe('no skipped events under concurrent appends', () => {
      it(
        delays
          ? '8 writers × 2,000 events with random 0–3 ms delays inside their transactions: a live subscriber gets every event once, in order'
          : '8 writers × 2,000 concurrent events (this adapter cannot delay commits): a live subscriber gets every event once, in order',
        { timeout: 180_000 },
        () => noSkipScenario(factory),
      );

      it(
        'an append that commits late is delivered before a later position that committed first',
        {
          timeout: 60_000,
          skip: delays ? false : 'the adapter cannot hold an append open (no commitDelay)',
        },
        () => lateCommitScenario(factory),
      );
    });
  });
}
