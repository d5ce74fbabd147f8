/**
 * The EventStore port: the only source of truth. Two adapters implement it (PostgreSQL in
 * `src/adapters/eventstore/postgres`, KurrentDB in `src/adapters/eventstore/kurrentdb`) and both must pass
 * `test/conformance/event-store.conformance.ts`.
 *
 * Positions: every recorded event has a `globalPosition`, a positive integer that grows in the
 * order in which `readAll` and `subscribeToAll` deliver events. Positions may have gaps.
 * Position 0 means "before the first event". Reads take `after`: they return events whose
 * position is strictly greater, so a checkpoint (the last position handled) is passed as is.
 */
import type { EventMetadata } from './events/envelope.js';

/** What an append expects of the stream's current revision. Revisions start at 0. */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | number;

export interface NewEvent {
  /** UUIDv7; the adapter assigns one when absent. */
  readonly eventId?: string;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: EventMetadata;
}

export interface RecordedEvent {
  readonly eventId: string;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: EventMetadata;
  readonly streamId: string;
  readonly streamRevision: number;
  readonly globalPosition: number;
  readonly recordedAt: Date;
}

export interface AppendResult {
  /** The stream's revision after the append: pass it as the next expected revision. */
  readonly nextExpectedRevision: number;
  readonly firstPosition: number;
  /** Position of the last appended event: a command's reply carries it for read-your-writes. */
  readonly lastPosition: number;
}

export interface ReadStreamOptions {
  /**
   * First revision to return (inclusive); default 0, or the last revision when reading
   * backwards.
   */
  readonly fromRevision?: number;
  readonly maxCount?: number;
  /** Newest first: `{ backwards: true, maxCount: 1 }` reads a stream's last event. */
  readonly backwards?: boolean;
}

export interface ReadAllOptions {
  /** Return events strictly after this position; default 0 (from the start). */
  readonly after?: number;
  readonly limit?: number;
}

export interface SubscribeOptions {
  readonly after?: number;
  /** Largest batch yielded at once; default 500. */
  readonly batchSize?: number;
  /** Ends the iteration (the iterator returns) when aborted. */
  readonly signal?: AbortSignal;
}

export interface EventStore {
  /** Atomically appends all `events` to one stream. Resolves only once they are durable. */
  appendToStream(
    streamId: string,
    events: readonly NewEvent[],
    options?: { readonly expectedRevision?: ExpectedRevision },
  ): Promise<AppendResult>;
  /** Events of one stream in revision order; an absent stream reads as empty. */
  readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** Events of all streams in global order. Never returns an event while an earlier one may still commit. */
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  /**
   * Catches up from `after`, then stays live. Yields non-empty batches in global order; the
   * next batch is read only when the consumer asks for it (back-pressure).
   */
  subscribeToAll(options?: SubscribeOptions): AsyncIterable<RecordedEvent[]>;
  /** The position of the last event that `readAll` can currently return (0 when empty). */
  headPosition(): Promise<number>;
  close(): Promise<void>;
}

/** Bounds every adapter applies alike. */
export const MAX_EVENTS_PER_APPEND = 10_000;
export const DEFAULT_READ_LIMIT = 1000;
export const MAX_READ_LIMIT = 10_000;

/**
 * The checks every adapter makes of an append before it touches storage: a stream id of 1–512
 * characters, 1 to MAX_EVENTS_PER_APPEND events, and a well-formed expected revision. Throws
 * RangeError; nothing is written.
 */
export function checkAppend(streamId: string, events: readonly NewEvent[], expected: ExpectedRevision): void {
  if (streamId.length === 0 || streamId.length > 512)
    throw new RangeError('stream id must be 1–512 characters');
  if (events.length === 0) throw new RangeError('an append needs at least one event');
  if (events.length > MAX_EVENTS_PER_APPEND) {
    throw new RangeError(`at most ${MAX_EVENTS_PER_APPEND} events per append`);
  }
  const named = expected === 'any' || expected === 'no_stream' || expected === 'stream_exists';
  if (!named && !(typeof expected === 'number' && Number.isSafeInteger(expected) && expected >= 0)) {
    throw new RangeError(`expected revision must be a non-negative integer, got ${String(expected)}`);
  }
}

/** A read's page size: the caller's (a positive integer, capped at MAX_READ_LIMIT) or `fallback`. */
export function readLimit(limit: number | undefined, fallback = DEFAULT_READ_LIMIT): number {
  if (limit === undefined) return fallback;
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
  return Math.min(limit, MAX_READ_LIMIT);
}

/** An append's expected revision did not match the stream. Nothing was written. */
export class WrongExpectedRevision extends Error {
  override readonly name = 'WrongExpectedRevision';
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedRevision,
    /** The stream's revision, or 'no_stream' when it does not exist. */
    readonly actual: number | 'no_stream',
  ) {
    super(`stream ${streamId}: expected revision ${String(expected)}, actual ${String(actual)}`);
  }
}
