/**
 * The EventStore port on PostgreSQL (kysely + pg). See migrations/0001_events.ts for the
 * table layout and for why readers never skip an event that commits late.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { type QueryExecutorProvider, sql } from 'kysely';
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
import { checkAppend, readLimit, WrongExpectedRevision } from '../../../domain/event-store.js';
import type { EventMetadata } from '../../../domain/events/envelope.js';
import type { AppendNotifier } from './append-notifier.js';

/** Subscribers re-read at least this often even without a notification. */
const POLL_INTERVAL_MS = 500;
/** After a wake-up that found nothing readable, the first re-read comes this soon (then doubles). */
const RETRY_AFTER_WAKE_MS = 10;
/** Rows a shared subscription read asks for at least (the projections' batch). */
const SHARED_READ_ROWS = 2000;
/** Default of `readIntervalMs`. */
const READ_INTERVAL_MS = 50;

interface EventRow {
  global_position: string;
  stream_id: string;
  stream_revision: string;
  event_id: string;
  type: string;
  data: unknown;
  metadata: EventMetadata;
  recorded_at: Date;
}

/**
 * Any Kysely instance, whatever its table types: the store only runs raw SQL through it, so
 * it shares the process's pool with the read model.
 */
export interface SqlRunner extends QueryExecutorProvider {
  transaction(): { execute<T>(callback: (trx: QueryExecutorProvider) => Promise<T>): Promise<T> };
}

export interface PostgresEventStoreOptions {
  readonly db: SqlRunner;
  readonly notifier: AppendNotifier;
  /** Observes each committed append (metrics). */
  readonly onAppended?: (streamId: string, count: number, seconds: number) => void;
  /**
   * At the head of the log, a subscription reads at most once per this many milliseconds
   * (default 50): the first append after a quiet spell is read at once, and the appends that
   * follow it within the interval are read together, in one query and one batch for every
   * projection, instead of one read and one read-model transaction per append.
   */
  readonly readIntervalMs?: number;
  /**
   * Test seam: runs inside the append's transaction after the rows are written and before
   * COMMIT, so tests can hold transactions open and commit them out of order.
   */
  readonly beforeCommit?: (streamId: string) => Promise<void>;
  /**
   * Test seam for the conformance suite's proof that its no-skip test can fail: reads by
   * position alone, ignoring transactions still in flight. Never set outside that test.
   */
  readonly unsafeNaiveReads?: boolean;
}

/** sluice_append's encoding of an expected revision (checked by checkAppend). */
function encodeExpected(expected: ExpectedRevision): number {
  if (expected === 'any') return -1;
  if (expected === 'no_stream') return -2;
  if (expected === 'stream_exists') return -3;
  return expected;
}

function toRecorded(row: EventRow): RecordedEvent {
  return {
    eventId: row.event_id,
    type: row.type,
    data: row.data,
    metadata: row.metadata,
    streamId: row.stream_id,
    streamRevision: Number(row.stream_revision),
    globalPosition: Number(row.global_position),
    recordedAt: row.recorded_at,
  };
}

function isPgError(error: unknown): error is { code: string; detail?: string } {
  return (
    typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string'
  );
}

/** A subscription read in flight, which other subscriptions at the same position may share. */
interface SharedRead {
  readonly limit: number;
  /** The notifier's version when the read was sent: it sees every append woken before it. */
  readonly version: number;
  readonly rows: Promise<RecordedEvent[]>;
}

export class PostgresEventStore implements EventStore {
  private readonly db: SqlRunner;
  private readonly closing = new AbortController();
  /** Subscription reads in flight, by the position they read after. */
  private readonly reads = new Map<number, SharedRead[]>();
  /**
   * The last subscription read that followed new appends: when (performance.now()) and at
   * which notifier version. Subscriptions woken by the same appends read at once, to share it.
   */
  private headRead = { at: Number.NEGATIVE_INFINITY, version: -1 };
  /** The next poll (see pollTick). */
  private poll: AbortController | undefined;

  constructor(private readonly options: PostgresEventStoreOptions) {
    this.db = options.db;
  }

  async appendToStream(
    streamId: string,
    events: readonly NewEvent[],
    options: { readonly expectedRevision?: ExpectedRevision } = {},
  ): Promise<AppendResult> {
    const expected = options.expectedRevision ?? 'any';
    checkAppend(streamId, events, expected);
    const started = process.hrtime.bigint();
    const ids = events.map((e) => e.eventId ?? uuidv7());
    const types = events.map((e) => e.type);
    const data = events.map((e) => JSON.stringify(e.data ?? null));
    const metadata = events.map((e) => JSON.stringify(e.metadata));
    const call = sql<{ first_position: string; last_position: string; next_revision: string }>`
      SELECT * FROM sluice_append(${streamId}, ${encodeExpected(expected)},
        ${ids}::uuid[], ${types}::text[], ${data}::jsonb[], ${metadata}::jsonb[])`;
    let row: { first_position: string; last_position: string; next_revision: string } | undefined;
    try {
      const beforeCommit = this.options.beforeCommit;
      if (beforeCommit) {
        row = await this.db.transaction().execute(async (trx) => {
          const result = await call.execute(trx);
          await beforeCommit(streamId);
          return result.rows[0];
        });
      } else {
        row = (await call.execute(this.db)).rows[0];
      }
    } catch (error) {
      if (isPgError(error) && error.code === 'SLU01') {
        const actual = Number(error.detail);
        throw new WrongExpectedRevision(streamId, expected, actual < 0 ? 'no_stream' : actual);
      }
      throw error;
    }
    if (!row) throw new Error('sluice_append returned no row');
    this.options.notifier.appended();
    this.options.onAppended?.(streamId, events.length, Number(process.hrtime.bigint() - started) / 1e9);
    return {
      firstPosition: Number(row.first_position),
      lastPosition: Number(row.last_position),
      nextExpectedRevision: Number(row.next_revision),
    };
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const limit = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    const query = options.backwards
      ? sql<EventRow>`
          SELECT global_position, stream_id, stream_revision, event_id, type, data, metadata, recorded_at
          FROM events WHERE stream_id = ${streamId} AND stream_revision <= ${options.fromRevision ?? Number.MAX_SAFE_INTEGER}
          ORDER BY stream_revision DESC LIMIT ${limit}`
      : sql<EventRow>`
          SELECT global_position, stream_id, stream_revision, event_id, type, data, metadata, recorded_at
          FROM events WHERE stream_id = ${streamId} AND stream_revision >= ${options.fromRevision ?? 0}
          ORDER BY stream_revision LIMIT ${limit}`;
    const result = await query.execute(this.db);
    return result.rows.map(toRecorded);
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const after = options.after ?? 0;
    const limit = readLimit(options.limit);
    const visible = this.options.unsafeNaiveReads
      ? sql`true`
      : sql`transaction_id < pg_snapshot_xmin(pg_current_snapshot())`;
    const result = await sql<EventRow>`
      SELECT global_position, stream_id, stream_revision, event_id, type, data, metadata, recorded_at
      FROM events WHERE global_position > ${after} AND ${visible}
      ORDER BY global_position LIMIT ${limit}`.execute(this.db);
    return result.rows.map(toRecorded);
  }

  async headPosition(): Promise<number> {
    const result = await sql<{ global_position: string }>`
      SELECT global_position FROM events
      WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
      ORDER BY global_position DESC LIMIT 1`.execute(this.db);
    return Number(result.rows[0]?.global_position ?? 0);
  }

  async *subscribeToAll(options: SubscribeOptions = {}): AsyncGenerator<RecordedEvent[]> {
    let after = options.after ?? 0;
    const batchSize = readLimit(options.batchSize, 500);
    // Ends with the caller's signal or with close().
    const signal = options.signal
      ? AbortSignal.any([options.signal, this.closing.signal])
      : this.closing.signal;
    const notifier = this.options.notifier;
    await notifier.start();
    const interval = this.options.readIntervalMs ?? READ_INTERVAL_MS;
    let woken = false;
    let backoff = 0;
    while (!signal.aborted) {
      // Woken soon after the last read at the head: let the appends of the rest of the
      // interval join in. Every subscription waits for the same moment, so they still share
      // one read (and the projections one transaction).
      if (woken && notifier.version !== this.headRead.version) {
        const wait = this.headRead.at + interval - performance.now();
        if (wait > 0) await delay(wait, undefined, { signal }).catch(() => undefined);
        if (signal.aborted) return;
      }
      const seen = notifier.version;
      if (seen !== this.headRead.version) this.headRead = { at: performance.now(), version: seen };
      const batch = await this.sharedRead(after, batchSize, seen);
      if (signal.aborted) return;
      if (batch.length > 0) {
        after = batch[batch.length - 1]!.globalPosition;
        backoff = 0;
        yield batch;
        if (batch.length === batchSize) {
          woken = false; // catching up: the next page at once
          continue;
        }
      } else if (woken || backoff > 0) {
        // Woken, yet nothing readable: an older transaction is still open somewhere in the
        // cluster (one that will not notify when it ends). Look again soon, backing off.
        backoff = backoff === 0 ? RETRY_AFTER_WAKE_MS : Math.min(backoff * 2, POLL_INTERVAL_MS);
      }
      if (backoff > 0) await notifier.waitForAppend(seen, backoff, signal);
      // Polls of every subscription come at one moment, so they share one read too.
      else
        await notifier.waitForAppend(seen, 2 * POLL_INTERVAL_MS, AbortSignal.any([signal, this.pollTick()]));
      woken = notifier.version !== seen;
    }
  }

  /**
   * `readAll` for a subscription, shared with the other subscriptions of this process that read
   * from the same position at the same time (the projections and the connection registry all
   * wake on the same append): one query for all of them. A read is shared only with callers
   * whose wake-up it follows (sent at or after their notifier version `seen`), so nobody gets
   * an answer older than the append that woke them; a caller that asks for more rows than a
   * read in flight fetches its own.
   */
  private sharedRead(after: number, limit: number, seen: number): Promise<RecordedEvent[]> {
    const inFlight = this.reads.get(after);
    const read = inFlight?.find((r) => r.limit >= limit && r.version >= seen) ?? this.startRead(after, limit);
    return read.rows.then((rows) => (rows.length > limit ? rows.slice(0, limit) : rows));
  }

  /** A new shared read after `after`, listed until it settles. */
  private startRead(after: number, limit: number): SharedRead {
    // At least SHARED_READ_ROWS, so subscriptions asking for fewer rows than others can serve
    // those that come after them.
    const rowsToRead = Math.max(limit, SHARED_READ_ROWS);
    const read: SharedRead = {
      limit: rowsToRead,
      version: this.options.notifier.version,
      rows: this.readAll({ after, limit: rowsToRead }).finally(() => {
        const rest = this.reads.get(after)?.filter((r) => r !== read) ?? [];
        if (rest.length > 0) this.reads.set(after, rest);
        else this.reads.delete(after);
      }),
    };
    this.reads.set(after, [...(this.reads.get(after) ?? []), read]);
    return read;
  }

  /** Aborts at the next poll, shared by every subscription waiting now (every POLL_INTERVAL_MS). */
  private pollTick(): AbortSignal {
    if (!this.poll) {
      const poll = new AbortController();
      this.poll = poll;
      setTimeout(() => {
        this.poll = undefined;
        poll.abort();
      }, POLL_INTERVAL_MS).unref();
    }
    return this.poll.signal;
  }

  async close(): Promise<void> {
    this.closing.abort();
    await this.options.notifier.close();
  }
}
