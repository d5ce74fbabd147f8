/**
 * The EventStore port in memory, for tests of the application and of deciders that need no
 * database. It passes the same conformance suite as the PostgreSQL and KurrentDB adapters
 * (test/conformance/memory.test.ts), including the rule that makes the PostgreSQL adapter
 * safe: an append takes its positions when it begins and may commit after a later append
 * (a test can hold it open with `beforeCommit`), so reads stop before the first position whose
 * append has not committed yet, and nothing is ever skipped.
 *
 * Events are stored as JSON text would store them (a copy made at append, frozen), so a test
 * sees the same values a database would give back. "Durable" means: in this process's memory.
 */
import { v7 as uuidv7 } from 'uuid';
import {
  type AppendResult,
  checkAppend,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  readLimit,
  type SubscribeOptions,
  WrongExpectedRevision,
} from '../../../domain/event-store.js';
import type { EventMetadata } from '../../../domain/events/envelope.js';

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** A JSON copy, as a jsonb column would give it back (throws on what JSON cannot hold). */
function stored<T>(value: T): T {
  const text = JSON.stringify(value ?? null);
  return deepFreeze(JSON.parse(text) as T);
}

/**
 * The data every store instance on it shares, as a database is shared by the processes that
 * open it: `new InMemoryEventStore(log)` twice is a restart.
 */
export class InMemoryLog {
  /** Committed events in position order. */
  readonly events: RecordedEvent[] = [];
  readonly streams = new Map<string, RecordedEvent[]>();
  readonly eventIds = new Set<string>();
  /** First positions of appends that have positions and have not committed. */
  readonly open = new Set<number>();
  nextPosition = 1;
  /** Appends to one stream run one after another (as a row lock makes them). */
  readonly streamLocks = new Map<string, Promise<void>>();
  private waiters: Array<() => void> = [];

  /** Positions below this are all committed: reads stop before it. */
  horizon(): number {
    let lowest = this.nextPosition;
    for (const position of this.open) lowest = Math.min(lowest, position);
    return lowest;
  }

  /** Index of the first committed event after `position`. */
  indexAfter(position: number): number {
    let low = 0;
    let high = this.events.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.events[middle]!.globalPosition <= position) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  commit(recorded: readonly RecordedEvent[], first: number): void {
    const at = this.indexAfter(first - 1);
    this.events.splice(at, 0, ...recorded);
    this.open.delete(first);
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves on the next commit, or when `signal` aborts. */
  nextCommit(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      };
      this.waiters.push(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

export interface InMemoryEventStoreOptions {
  /**
   * Test seam, as the PostgreSQL adapter's: runs after the append's events have their
   * positions and before they commit.
   */
  readonly beforeCommit?: (streamId: string) => Promise<void>;
}

export class InMemoryEventStore implements EventStore {
  private readonly closing = new AbortController();

  constructor(
    private readonly log: InMemoryLog = new InMemoryLog(),
    private readonly options: InMemoryEventStoreOptions = {},
  ) {}

  async appendToStream(
    streamId: string,
    events: readonly NewEvent[],
    options: { readonly expectedRevision?: ExpectedRevision } = {},
  ): Promise<AppendResult> {
    const expected = options.expectedRevision ?? 'any';
    checkAppend(streamId, events, expected);
    // Copied (and so checked) before anything is written: a bad event fails the whole append.
    const copies = events.map((e) => ({
      eventId: e.eventId ?? uuidv7(),
      type: e.type,
      data: stored(e.data),
      metadata: stored<EventMetadata>(e.metadata),
    }));
    const log = this.log;
    const before = log.streamLocks.get(streamId) ?? Promise.resolve();
    let unlock!: () => void;
    const lock = new Promise<void>((resolve) => {
      unlock = resolve;
    });
    log.streamLocks.set(streamId, lock);
    await before;
    try {
      const stream = log.streams.get(streamId) ?? [];
      const actual = stream.length - 1;
      const matches =
        expected === 'any' ||
        (expected === 'no_stream' && actual < 0) ||
        (expected === 'stream_exists' && actual >= 0) ||
        expected === actual;
      if (!matches) throw new WrongExpectedRevision(streamId, expected, actual < 0 ? 'no_stream' : actual);
      const ids = new Set(copies.map((c) => c.eventId));
      if (ids.size < copies.length || copies.some((c) => log.eventIds.has(c.eventId))) {
        throw new Error('an event id is already recorded');
      }
      const first = log.nextPosition;
      log.nextPosition += copies.length;
      log.open.add(first);
      try {
        const recordedAt = new Date();
        const recorded = copies.map(
          (copy, i): RecordedEvent =>
            Object.freeze({
              ...copy,
              streamId,
              streamRevision: actual + 1 + i,
              globalPosition: first + i,
              recordedAt,
            }),
        );
        await this.options.beforeCommit?.(streamId);
        stream.push(...recorded);
        for (const id of ids) log.eventIds.add(id);
        log.streams.set(streamId, stream);
        log.commit(recorded, first);
        return {
          firstPosition: first,
          lastPosition: first + copies.length - 1,
          nextExpectedRevision: actual + copies.length,
        };
      } finally {
        // A failed commit leaves a gap in the positions, as a rolled-back transaction does.
        if (log.open.delete(first)) log.commit([], first);
      }
    } finally {
      unlock();
      if (log.streamLocks.get(streamId) === lock) log.streamLocks.delete(streamId);
    }
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const stream = this.log.streams.get(streamId) ?? [];
    const maxCount = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    if (options.backwards) {
      const from = Math.min(options.fromRevision ?? stream.length - 1, stream.length - 1);
      return stream
        .slice(0, from + 1)
        .reverse()
        .slice(0, maxCount);
    }
    return stream.slice(options.fromRevision ?? 0).slice(0, maxCount);
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    return this.readAfter(options.after ?? 0, readLimit(options.limit));
  }

  private readAfter(after: number, limit: number): RecordedEvent[] {
    const horizon = this.log.horizon();
    const from = this.log.indexAfter(after);
    const page: RecordedEvent[] = [];
    for (let i = from; i < this.log.events.length && page.length < limit; i++) {
      const event = this.log.events[i]!;
      if (event.globalPosition >= horizon) break;
      page.push(event);
    }
    return page;
  }

  async headPosition(): Promise<number> {
    const horizon = this.log.horizon();
    const below = this.log.indexAfter(horizon - 1);
    return below === 0 ? 0 : this.log.events[below - 1]!.globalPosition;
  }

  async *subscribeToAll(options: SubscribeOptions = {}): AsyncGenerator<RecordedEvent[]> {
    let after = options.after ?? 0;
    const batchSize = readLimit(options.batchSize, 500);
    const signal = options.signal
      ? AbortSignal.any([options.signal, this.closing.signal])
      : this.closing.signal;
    while (!signal.aborted) {
      // Registered before reading, so a commit between the read and the wait is not missed.
      const next = this.log.nextCommit(signal);
      const batch = this.readAfter(after, batchSize);
      if (batch.length > 0) {
        after = batch.at(-1)!.globalPosition;
        yield batch;
        continue;
      }
      await next;
    }
  }

  async close(): Promise<void> {
    this.closing.abort();
  }
}
