/**
 * The EventStore port on KurrentDB (EventStoreDB) through @eventstore/db-client (gRPC).
 *
 * - Streams map one to one (optionally under a name prefix, which tests use to get an empty
 *   "store" on a shared server). Events are JSON, with the port's metadata as JSON metadata and
 *   the port's event id (UUIDv7, generated when absent) as the KurrentDB event id.
 * - Global positions are `$all` commit positions; position.ts says why that is sound.
 * - What the store reads from `$all` is Sluice's events only: no system streams, no `$` event
 *   types, and only streams under the prefix. Subscriptions ask the server to filter (event types
 *   not starting with `$`, or the stream prefix); every read applies the same rule on the client,
 *   so `readAll`, `headPosition` and subscriptions always agree.
 * - KurrentDB has one writer and makes an event readable only once everything before it in the
 *   log is, so no append can become visible behind a position a reader has already passed: the
 *   late-commit problem of the PostgreSQL store does not arise, and no commit delay exists to test.
 * - Subscriptions survive server restarts and leader changes: a failed subscription is opened
 *   again, with back-off, from the position of the last event it delivered; events at or before
 *   that position are dropped, so nothing is lost or delivered twice.
 */

import type { Readable, ReadableOptions } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import {
  type AllStreamResolvedEvent,
  type AppendExpectedRevision,
  BACKWARDS,
  type AppendResult as ClientAppendResult,
  END,
  ErrorType,
  type EventData,
  excludeSystemEvents,
  type Filter,
  FORWARDS,
  isCommandError,
  type JSONType,
  type Position,
  type ReadPosition,
  type ReadRevision,
  type ResolvedEvent,
  START,
  StreamNotFoundError,
  streamNameFilter,
} from '@eventstore/db-client';
import { v7 as uuidv7 } from 'uuid';
import type {
  AppendResult,
  EventStore,
  ExpectedRevision,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions,
} from '../../../domain/event-store.js';
import { checkAppend, readLimit } from '../../../domain/event-store.js';
import type { EventMetadata } from '../../../domain/events/envelope.js';
import { createClient, describeEventStoreUrl, oneLine } from './connection.js';
import {
  EventDecodeError,
  isRetryableSubscriptionError,
  revisionToNumber,
  toAppendError,
  toClientExpectedRevision,
} from './errors.js';
import { comparePositions, fromGlobalPosition, toGlobalPosition } from './position.js';

/** `$all` pages read when filtering on the client start at this size and double up to the max. */
const MIN_SCAN_PAGE = 32;
const MAX_SCAN_PAGE = 4096;

/** A subscription as the client returns it: an object-mode Readable of resolved events. */
export interface KurrentSubscription extends Readable {
  unsubscribe(): Promise<void>;
}

/** The part of `EventStoreDBClient` the store uses (tests pass a fake with the same behaviour). */
export interface KurrentClient {
  appendToStream(
    streamName: string,
    events: EventData[],
    options: { expectedRevision: AppendExpectedRevision },
  ): Promise<ClientAppendResult>;
  readStream(
    streamName: string,
    options: {
      fromRevision: ReadRevision;
      maxCount: number | bigint;
      direction: typeof FORWARDS | typeof BACKWARDS;
    },
  ): AsyncIterable<ResolvedEvent>;
  readAll(options: {
    fromPosition: ReadPosition;
    maxCount: number | bigint;
    direction: typeof FORWARDS | typeof BACKWARDS;
    resolveLinkTos: boolean;
  }): AsyncIterable<AllStreamResolvedEvent> & { cancel(): Promise<void> };
  subscribeToAll(
    options: { fromPosition: ReadPosition; filter: Filter; resolveLinkTos: boolean },
    readableOptions: ReadableOptions,
  ): KurrentSubscription;
  dispose(): Promise<void>;
}

export interface KurrentDbLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface KurrentDbEventStoreOptions {
  readonly client: KurrentClient;
  /** The connection string (shown without its password in errors). */
  readonly url?: string;
  /**
   * Every stream is stored as `<streamPrefix><streamId>`, and reads see only those streams. Empty
   * (the default) in production; tests give each store a fresh prefix on a shared server.
   */
  readonly streamPrefix?: string;
  /**
   * Test seam with `streamPrefix`: the `$all` position at which the prefix was new. Reads and
   * subscriptions from position 0 start scanning there instead of at the start of the log.
   */
  readonly scanFrom?: Position;
  /** Observes each append (metrics). */
  readonly onAppended?: (streamId: string, count: number, seconds: number) => void;
  readonly logger?: KurrentDbLogger;
  /** Back-off between attempts to re-open a failed subscription: doubles from `initialMs` to `maxMs`. */
  readonly retry?: { readonly initialMs?: number; readonly maxMs?: number };
}

/** The fields of a recorded event the store uses, whichever read returned it. */
interface ClientRecordedEvent {
  readonly streamId: string;
  readonly id: string;
  readonly revision: bigint;
  readonly type: string;
  readonly created: Date;
  readonly data: unknown;
  readonly metadata: unknown;
  readonly isJson: boolean;
  readonly position?: Position;
}

function isStreamNotFound(error: unknown): boolean {
  return (
    error instanceof StreamNotFoundError ||
    (error instanceof Error && isCommandError(error) && error.type === ErrorType.STREAM_NOT_FOUND)
  );
}

/** JSON text of a value, or a TypeError when it has none (the client would fail asynchronously). */
function assertSerialisable(value: unknown, what: string): void {
  if (JSON.stringify(value) === undefined) throw new TypeError(`${what} cannot be serialised as JSON`);
}

/** Resolves after `ms`, or at once when `signal` aborts. */
const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  delay(ms, undefined, { signal }).catch(() => undefined);

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of source) items.push(item);
  return items;
}

/** A subscription that ended without an error: the server went away; it is opened again. */
class SubscriptionEnded extends Error {
  override readonly name = 'SubscriptionEnded';
}

/**
 * Pulls what a subscription has buffered, up to a batch at a time, and waits when it has nothing.
 * Reading only on demand keeps the Readable's buffer full, which pauses the gRPC stream.
 */
class BatchReader {
  private error: unknown;
  private failed = false;
  private ended = false;
  private changed = false;
  private waiter: (() => void) | undefined;
  private readonly wake = () => {
    this.changed = true;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  };

  constructor(
    private readonly source: KurrentSubscription,
    private readonly signal: AbortSignal,
  ) {
    source.on('readable', this.wake);
    source.on('end', () => {
      this.ended = true;
      this.wake();
    });
    source.on('close', () => {
      this.ended = true;
      this.wake();
    });
    source.on('error', (error: unknown) => {
      if (!this.failed) {
        this.failed = true;
        this.error = error;
      }
      this.wake();
    });
    signal.addEventListener('abort', this.wake, { once: true });
  }

  /** Up to `max` events; `undefined` when the subscription ended or the signal aborted. */
  async next(max: number): Promise<AllStreamResolvedEvent[] | undefined> {
    for (;;) {
      const batch: AllStreamResolvedEvent[] = [];
      while (batch.length < max) {
        const item = this.source.read() as AllStreamResolvedEvent | null;
        if (item === null) break;
        batch.push(item);
      }
      if (batch.length > 0) return batch;
      if (this.failed) throw this.error;
      if (this.ended || this.signal.aborted) return undefined;
      if (!this.changed) await new Promise<void>((resolve) => (this.waiter = resolve));
      this.changed = false;
    }
  }

  close(): void {
    this.signal.removeEventListener('abort', this.wake);
    this.source.removeAllListeners('readable');
    // A late error after cancelling must not become an unhandled 'error' event.
    this.source.on('error', () => undefined);
    this.source.unsubscribe().catch(() => undefined);
    this.source.destroy();
  }
}

export class KurrentDbEventStore implements EventStore {
  private readonly client: KurrentClient;
  private readonly prefix: string;
  private readonly closing = new AbortController();
  private readonly description: string;

  constructor(private readonly options: KurrentDbEventStoreOptions) {
    this.client = options.client;
    this.prefix = options.streamPrefix ?? '';
    if (this.prefix.startsWith('$')) throw new RangeError('the stream prefix must not start with $');
    this.description = options.url === undefined ? 'KurrentDB' : describeEventStoreUrl(options.url);
  }

  /** Whether an event read from KurrentDB is one of this store's. */
  private accepts(event: ClientRecordedEvent): boolean {
    return (
      !event.type.startsWith('$') && !event.streamId.startsWith('$') && event.streamId.startsWith(this.prefix)
    );
  }

  private toRecorded(event: ClientRecordedEvent): RecordedEvent {
    const metadata = event.metadata;
    if (
      !event.isJson ||
      typeof metadata !== 'object' ||
      metadata === null ||
      Array.isArray(metadata) ||
      metadata instanceof Uint8Array
    ) {
      throw new EventDecodeError(
        `event ${event.id} in stream ${event.streamId} has no JSON data and metadata: not a Sluice event (the KurrentDB database must be Sluice's alone)`,
      );
    }
    return {
      eventId: event.id,
      type: event.type,
      data: event.data,
      metadata: metadata as EventMetadata,
      streamId: event.streamId.slice(this.prefix.length),
      streamRevision: revisionToNumber(event.revision),
      globalPosition: toGlobalPosition(event.position),
      recordedAt: event.created,
    };
  }

  private filter(): Filter {
    return this.prefix === '' ? excludeSystemEvents() : streamNameFilter({ prefixes: [this.prefix] });
  }

  /** Where reads of "everything after `after`" start, and the raw position they must pass. */
  private startOf(after: number): { from: ReadPosition; floor: Position | undefined } {
    const from = fromGlobalPosition(after);
    if (from !== 'start') return { from, floor: from };
    const scanFrom = this.options.scanFrom;
    return scanFrom ? { from: scanFrom, floor: scanFrom } : { from: START, floor: undefined };
  }

  async appendToStream(
    streamId: string,
    events: readonly NewEvent[],
    options: { readonly expectedRevision?: ExpectedRevision } = {},
  ): Promise<AppendResult> {
    const expected = options.expectedRevision ?? 'any';
    checkAppend(streamId, events, expected);
    if (streamId.startsWith('$'))
      throw new RangeError('stream ids starting with $ are KurrentDB system streams');
    const expectedRevision = toClientExpectedRevision(expected);
    const started = process.hrtime.bigint();
    const name = this.prefix + streamId;
    const data: EventData[] = events.map((event) => {
      if (event.type.length === 0 || event.type.startsWith('$')) {
        throw new RangeError(`event type "${event.type}" is empty or reserved for KurrentDB ($)`);
      }
      const payload = event.data ?? null;
      // The client serialises inside a promise it cannot reject from: check here, so a bad event
      // fails the whole append before anything is sent.
      assertSerialisable(payload, `data of event type ${event.type}`);
      assertSerialisable(event.metadata, `metadata of event type ${event.type}`);
      return {
        id: event.eventId ?? uuidv7(),
        contentType: 'application/json',
        type: event.type,
        // JSON scalars (numbers, booleans, null) are valid event data; the client's type is narrower.
        data: payload as JSONType,
        metadata: event.metadata as unknown as JSONType,
      };
    });

    let result: ClientAppendResult;
    try {
      result = await this.client.appendToStream(name, data, { expectedRevision });
    } catch (error) {
      throw toAppendError(error, streamId, expected);
    }
    const next = revisionToNumber(result.nextExpectedRevision);
    const first = next - data.length + 1;
    const [firstPosition, lastPosition] = await this.positionsOf(name, first, data);
    this.options.onAppended?.(streamId, events.length, Number(process.hrtime.bigint() - started) / 1e9);
    return { nextExpectedRevision: next, firstPosition, lastPosition };
  }

  /**
   * The `$all` positions of the first and last event of an append, read back from the stream at
   * the revisions the append was given. (The append's own reply carries one position for the
   * whole append, and which event it names is not part of the client's contract.)
   */
  private async positionsOf(
    name: string,
    first: number,
    data: readonly EventData[],
  ): Promise<[number, number]> {
    const at = async (revision: number, id: string): Promise<number> => {
      const read = this.client.readStream(name, {
        fromRevision: BigInt(revision),
        maxCount: 1,
        direction: FORWARDS,
      });
      for (const resolved of await collect(read)) {
        const event = resolved.event;
        if (event && event.id.toLowerCase() === id.toLowerCase()) return toGlobalPosition(event.position);
      }
      throw new Error(`stream ${name}: the event just appended at revision ${revision} cannot be read back`);
    };
    const last = first + data.length - 1;
    if (first === last) {
      const position = await at(first, data[0]!.id);
      return [position, position];
    }
    return Promise.all([at(first, data[0]!.id), at(last, data[data.length - 1]!.id)]);
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const backwards = options.backwards ?? false;
    const maxCount = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(maxCount) || maxCount < 0)
      throw new RangeError('maxCount must be a non-negative integer');
    if (maxCount === 0) return [];
    let fromRevision: ReadRevision = backwards ? END : START;
    if (options.fromRevision !== undefined) {
      if (!Number.isSafeInteger(options.fromRevision) || options.fromRevision < 0) {
        throw new RangeError('fromRevision must be a non-negative integer');
      }
      fromRevision = BigInt(options.fromRevision);
    }
    const events: RecordedEvent[] = [];
    try {
      const read = this.client.readStream(this.prefix + streamId, {
        fromRevision,
        maxCount,
        direction: backwards ? BACKWARDS : FORWARDS,
      });
      for await (const resolved of read) {
        const event = resolved.event;
        if (event && !event.type.startsWith('$')) events.push(this.toRecorded(event));
      }
    } catch (error) {
      if (isStreamNotFound(error)) return [];
      throw error;
    }
    return events;
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const limit = readLimit(options.limit);
    let { from, floor } = this.startOf(options.after ?? 0);
    const found: RecordedEvent[] = [];
    let page = Math.max(MIN_SCAN_PAGE, Math.min(limit, MAX_SCAN_PAGE));
    for (;;) {
      const read = await collect(
        this.client.readAll({
          fromPosition: from,
          maxCount: page,
          direction: FORWARDS,
          resolveLinkTos: false,
        }),
      );
      let moved = false;
      for (const resolved of read) {
        const event = resolved.event;
        if (!event) continue;
        // Reads start at (and include) `from`; anything not past the floor was seen already.
        if (floor && comparePositions(event.position, floor) <= 0) continue;
        floor = event.position;
        moved = true;
        if (!this.accepts(event)) continue;
        found.push(this.toRecorded(event));
        if (found.length === limit) return found;
      }
      if (read.length < page || !moved || !floor) return found;
      from = floor;
      page = Math.min(page * 2, MAX_SCAN_PAGE);
    }
  }

  async headPosition(): Promise<number> {
    let from: ReadPosition = END;
    let ceiling: Position | undefined;
    let page = MIN_SCAN_PAGE;
    const floor = this.options.scanFrom;
    for (;;) {
      const read = await collect(
        this.client.readAll({
          fromPosition: from,
          maxCount: page,
          direction: BACKWARDS,
          resolveLinkTos: false,
        }),
      );
      let moved = false;
      for (const resolved of read) {
        const event = resolved.event;
        if (!event) continue;
        if (ceiling && comparePositions(event.position, ceiling) >= 0) continue;
        if (floor && comparePositions(event.position, floor) <= 0) return 0;
        ceiling = event.position;
        moved = true;
        if (this.accepts(event)) return toGlobalPosition(event.position);
      }
      if (read.length < page || !moved || !ceiling) return 0;
      from = ceiling;
      page = Math.min(page * 2, MAX_SCAN_PAGE);
    }
  }

  async *subscribeToAll(options: SubscribeOptions = {}): AsyncGenerator<RecordedEvent[]> {
    let after = options.after ?? 0;
    fromGlobalPosition(after); // validates
    const batchSize = readLimit(options.batchSize, 500);
    const signal = options.signal
      ? AbortSignal.any([options.signal, this.closing.signal])
      : this.closing.signal;
    const initialMs = this.options.retry?.initialMs ?? 100;
    const maxMs = this.options.retry?.maxMs ?? 5000;
    let failures = 0;
    while (!signal.aborted) {
      const { from, floor } = this.startOf(after);
      let reader: BatchReader | undefined;
      try {
        reader = new BatchReader(
          this.client.subscribeToAll(
            { fromPosition: from, filter: this.filter(), resolveLinkTos: false },
            { highWaterMark: batchSize },
          ),
          signal,
        );
        for (;;) {
          const raw = await reader.next(batchSize);
          if (raw === undefined) break;
          const batch: RecordedEvent[] = [];
          for (const resolved of raw) {
            const event = resolved.event;
            if (!event || !this.accepts(event)) continue;
            if (floor && comparePositions(event.position, floor) <= 0) continue;
            const recorded = this.toRecorded(event);
            if (recorded.globalPosition <= after) continue;
            batch.push(recorded);
          }
          if (batch.length === 0) continue;
          if (failures > 0) {
            this.options.logger?.info({ after, attempts: failures }, 'event subscription resumed');
            failures = 0;
          }
          after = batch[batch.length - 1]!.globalPosition;
          yield batch;
          if (signal.aborted) return;
        }
        if (signal.aborted) return;
        throw new SubscriptionEnded('the server ended the subscription');
      } catch (error) {
        if (signal.aborted) return;
        if (!isRetryableSubscriptionError(error)) throw error;
        failures += 1;
        const wait = Math.min(initialMs * 2 ** Math.min(failures - 1, 20), maxMs);
        this.options.logger?.warn(
          { err: error, after, attempt: failures, retryInMs: wait },
          `event subscription to ${this.description} lost; resubscribing after position ${after}`,
        );
        await sleep(wait, signal);
      } finally {
        reader?.close();
      }
    }
  }

  /**
   * Fails (one line, no password) unless KurrentDB answers a `$all` read within `timeoutMs`:
   * start-up calls it so that an unreachable server stops Sluice at once.
   */
  async checkReachable(timeoutMs = 10_000): Promise<void> {
    const read = this.client.readAll({
      fromPosition: END,
      maxCount: 1,
      direction: BACKWARDS,
      resolveLinkTos: false,
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
    });
    try {
      await Promise.race([collect(read), timeout]);
    } catch (error) {
      read.cancel().catch(() => undefined);
      const reason = error instanceof Error ? error.message || error.name : String(error);
      throw new Error(`cannot reach KurrentDB at ${this.description}: ${oneLine(reason)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.closing.abort();
    await this.client.dispose();
  }
}

export interface OpenKurrentDbOptions {
  readonly onAppended?: (streamId: string, count: number, seconds: number) => void;
  readonly logger?: KurrentDbLogger;
  /** How long start-up waits for KurrentDB to answer; default 10 s. */
  readonly connectTimeoutMs?: number;
}

/** Connects to KurrentDB at `url` and checks it answers; rejects with one clear line when not. */
export async function openKurrentDbEventStore(
  url: string,
  options: OpenKurrentDbOptions = {},
): Promise<KurrentDbEventStore> {
  let client: KurrentClient;
  try {
    client = createClient(url);
  } catch (error) {
    // The client's parse errors quote the whole string, password included: name only what it expected.
    const expected = (error as { expected?: unknown }).expected;
    throw new Error(
      `EVENTSTORE_URL ${describeEventStoreUrl(url)} is not a connection string the KurrentDB client accepts${typeof expected === 'string' ? ` (expected ${expected})` : ''}`,
    );
  }
  const store = new KurrentDbEventStore({ ...options, client, url });
  try {
    await store.checkReachable(options.connectTimeoutMs ?? 10_000);
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  return store;
}
