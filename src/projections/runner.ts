/**
 * Runs projections: each one consumes `$all` through its own subscription, from its
 * checkpoint, and commits every batch it has rows to write for in a read-model transaction
 * that
 *
 *   1. locks its checkpoint row (`SELECT … FOR UPDATE`),
 *   2. skips the batch's events at or below the checkpoint (another runner, in this or another
 *      process, or a rebuild already applied them),
 *   3. applies the rest and moves the checkpoint to the batch's last position,
 *
 * so each event takes effect exactly once, across crashes and across processes. A failed
 * batch rolls back and is retried with capped exponential back-off; no event is ever
 * skipped. `waitForPosition` lets a query wait until a command's events are visible.
 *
 * What keeps it fast: the subscription reads the next batch while the current one is
 * applied; at the head of the log the projections wake on the same append, share one read
 * (the event store's, which reads at the head at most once per 50 ms, so a burst of appends
 * comes as one batch) and write in one transaction together (one statement locks their
 * checkpoints, one moves them; committed without waiting for the WAL flush, since a crash
 * loses rows and checkpoints together and they are replayed); and a batch holding no event
 * the projection handles opens no transaction at all: its progress counts at once in this process (the view is already as it would be after
 * it), and the checkpoint row catches up with the next batch that writes, or at the latest
 * `checkpointIntervalMs` later, or on stop. A crash in between only makes a restart read
 * those unhandled events again.
 */

import { EventEmitter } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import type { ReadModel } from '../adapters/readmodel/schema.js';
import type { EventStore, RecordedEvent } from '../domain/event-store.js';
import type { RecordedDomainEvent } from '../domain/events/catalogue.js';
import { ensureCheckpoint, lockCheckpoints, readCheckpoint, setCheckpoints } from './checkpoints.js';
import { handledEvents, type Projection } from './projection.js';
import { rebuildProjection } from './rebuild.js';

/**
 * Events per batch unless told otherwise. Catching up, a larger batch spreads each
 * transaction's fixed cost (begin, checkpoint lock and update, commit) over more rows: the
 * audit view replays about 20 % faster with 2,000 than with 500 (bench/audit). At the head of
 * the log batches are as small as the appends that arrive.
 */
export const DEFAULT_BATCH_SIZE = 2000;

export interface ProjectionLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ProjectionRunnerOptions {
  readonly store: EventStore;
  readonly db: Kysely<ReadModel>;
  readonly projections: readonly Projection[];
  /** Most events per batch (and per read-model transaction); default DEFAULT_BATCH_SIZE. */
  readonly batchSize?: number;
  readonly logger?: ProjectionLogger;
  /** Observes each committed batch (metrics). */
  readonly onBatch?: (batch: BatchReport) => void;
  /** Back-off between retries of a failed batch: doubles from `initialMs` up to `maxMs`. */
  readonly retry?: { readonly initialMs?: number; readonly maxMs?: number };
  /** Passed to rebuilds: how long a swap waits for readers of the live tables; default 5 s. */
  readonly rebuildLockTimeoutMs?: number;
  /**
   * Longest time the checkpoint row may trail this process's position over events the
   * projection does not handle; default 1 s.
   */
  readonly checkpointIntervalMs?: number;
}

export interface BatchReport {
  readonly name: string;
  /** Events of the batch newly covered by the checkpoint (handled or not). */
  readonly events: number;
  readonly seconds: number;
  /** The checkpoint after the batch. */
  readonly position: number;
}

export interface ProjectionStatus {
  readonly name: string;
  /** Last checkpoint this process has seen committed. */
  readonly position: number;
  readonly running: boolean;
  readonly rebuilding: boolean;
  /** Consecutive failed attempts of the current batch (0 when healthy). */
  readonly failures: number;
  /** Present only while failing (the runner keeps retrying): /readyz reports it. */
  readonly lastError?: string;
  readonly lastErrorAt?: Date;
}

interface State {
  readonly projection: Projection;
  /** Everything up to here is in the view (written, or not the projection's business). */
  position: number;
  /** The checkpoint row as this runner last read or wrote it. */
  committed: number;
  /** When `committed` was last read or written (ms since the epoch). */
  committedAt: number;
  failures: number;
  lastError?: { message: string; at: Date };
  rebuilding: boolean;
}

type BatchOutcome = 'done' | 'resubscribe' | 'aborted';

/** What a batch's write needs, worked out ahead (undefined parts: work them out in turn). */
interface Prepared {
  /** The events the projection handles (undefined when one is invalid: processBatch fails). */
  readonly handled: readonly RecordedDomainEvent[] | undefined;
  /** The projection's prepared write of all of `handled`, if it prepares. */
  readonly write: ((trx: Kysely<ReadModel>) => Promise<void>) | undefined;
}

interface Delivery extends Prepared {
  readonly batch: readonly RecordedEvent[];
}

const NOTHING: Prepared = { handled: [], write: undefined };

/** A batch's write, queued for the next read-model transaction. */
interface Write {
  readonly state: State;
  readonly batch: readonly RecordedEvent[];
  /** The batch's last position (the checkpoint it moves to). */
  readonly last: number;
  readonly handled: readonly RecordedDomainEvent[];
  readonly prepared: Prepared;
  readonly whileWriting: (() => void) | undefined;
  readonly resolve: (result: BatchResult) => void;
  readonly reject: (error: unknown) => void;
}

interface BatchResult {
  readonly position: number;
  readonly events: number;
  readonly resubscribe: boolean;
  readonly movedBack: boolean;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}

/** True when `promise` settles within `ms`; false on time-out or when `signal` aborts. */
function settlesWithin(promise: Promise<unknown>, ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const finish = (value: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', aborted);
      resolve(value);
    };
    const aborted = () => finish(false);
    const timer = setTimeout(aborted, ms);
    signal.addEventListener('abort', aborted, { once: true });
    promise.then(
      () => finish(true),
      () => finish(true),
    );
  });
}

/** Resolves after `ms`, or at once when `signal` aborts. */
const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  delay(ms, undefined, { signal }).catch(() => undefined);

export class ProjectionRunner {
  private readonly states = new Map<string, State>();
  private readonly advanced = new EventEmitter();
  private readonly batchSize: number;
  private readonly checkpointIntervalMs: number;
  private controller: AbortController | undefined;
  private loops: Promise<void>[] = [];
  /** Writes waiting for this turn's read-model transaction (see `flush`). */
  private writes: Write[] = [];

  constructor(private readonly options: ProjectionRunnerOptions) {
    this.batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    if (!Number.isSafeInteger(this.batchSize) || this.batchSize < 1) {
      throw new RangeError('batchSize must be a positive integer');
    }
    this.checkpointIntervalMs = options.checkpointIntervalMs ?? 1000;
    if (!(this.checkpointIntervalMs >= 0)) throw new RangeError('checkpointIntervalMs must be ≥ 0');
    for (const projection of options.projections) {
      if (this.states.has(projection.name)) throw new Error(`duplicate projection name ${projection.name}`);
      if (projection.tables.includes('projection_checkpoints')) {
        throw new Error(`projection ${projection.name} must not own projection_checkpoints`);
      }
      this.states.set(projection.name, {
        projection,
        position: 0,
        committed: 0,
        committedAt: 0,
        failures: 0,
        rebuilding: false,
      });
    }
    this.advanced.setMaxListeners(0);
  }

  /**
   * Reads (or creates) every checkpoint, then starts one subscription per projection and
   * resolves; they catch up in the background. Fails when the read model is not migrated.
   */
  async start(): Promise<void> {
    if (this.controller) throw new Error('projection runner already started');
    for (const state of this.states.values()) {
      await ensureCheckpoint(this.options.db, state.projection.name);
      this.follow(state, await readCheckpoint(this.options.db, state.projection.name));
    }
    if (this.controller) throw new Error('projection runner already started');
    const controller = new AbortController();
    this.controller = controller;
    this.loops = [...this.states.values()].map((state) => this.run(state, controller.signal));
  }

  /**
   * Ends the subscriptions; resolves once every in-flight batch has committed or rolled back
   * and each checkpoint row has caught up with its position (when the database allows).
   */
  async stop(): Promise<void> {
    const controller = this.controller;
    if (!controller) return;
    controller.abort();
    await Promise.all(this.loops);
    this.loops = [];
    this.controller = undefined;
  }

  /** Last checkpoint seen by this process, per projection name. */
  positions(): Record<string, number> {
    return Object.fromEntries([...this.states].map(([name, s]) => [name, s.position]));
  }

  status(): ProjectionStatus[] {
    const running = this.controller !== undefined;
    return [...this.states.values()].map((s) => ({
      name: s.projection.name,
      position: s.position,
      running,
      rebuilding: s.rebuilding,
      failures: s.failures,
      ...(s.failures > 0 && s.lastError
        ? { lastError: s.lastError.message, lastErrorAt: s.lastError.at }
        : {}),
    }));
  }

  /**
   * Resolves true as soon as every projection (or the one named) has reached `position`
   * (for example an append's `lastPosition`), or false after `timeoutMs`.
   */
  waitForPosition(position: number, timeoutMs: number, name?: string): Promise<boolean> {
    const states = name === undefined ? [...this.states.values()] : [this.state(name)];
    const reached = () => states.every((s) => s.position >= position);
    if (reached()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (value: boolean) => {
        clearTimeout(timer);
        this.advanced.off('advanced', check);
        resolve(value);
      };
      const check = () => {
        if (reached()) finish(true);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.advanced.on('advanced', check);
    });
  }

  /**
   * Replays `name` from position 0 into fresh tables and swaps them in atomically (see
   * rebuild.ts); live runners keep going meanwhile. Resolves with the new checkpoint.
   */
  async rebuild(name: string): Promise<number> {
    const state = this.state(name);
    if (state.rebuilding) throw new Error(`projection ${name} is already being rebuilt`);
    state.rebuilding = true;
    try {
      const position = await rebuildProjection({
        store: this.options.store,
        db: this.options.db,
        projection: state.projection,
        batchSize: this.batchSize,
        ...(this.options.logger ? { logger: this.options.logger } : {}),
        ...(this.options.rebuildLockTimeoutMs !== undefined
          ? { lockTimeoutMs: this.options.rebuildLockTimeoutMs }
          : {}),
      });
      this.advance(state, position);
      return position;
    } finally {
      state.rebuilding = false;
    }
  }

  private state(name: string): State {
    const state = this.states.get(name);
    if (!state) throw new Error(`unknown projection ${name}`);
    return state;
  }

  private advance(state: State, position: number): void {
    if (position <= state.position) return;
    state.position = position;
    this.advanced.emit('advanced');
  }

  private recovered(state: State): void {
    if (state.failures === 0) return;
    this.options.logger?.info(
      { projection: state.projection.name, failures: state.failures },
      'projection recovered',
    );
    state.failures = 0;
  }

  private recordFailure(state: State, error: unknown, what: string): number {
    state.failures += 1;
    state.lastError = { message: errorMessage(error), at: new Date() };
    const initial = this.options.retry?.initialMs ?? 100;
    const max = this.options.retry?.maxMs ?? 30_000;
    const delay = Math.min(initial * 2 ** Math.min(state.failures - 1, 30), max);
    this.options.logger?.error(
      {
        projection: state.projection.name,
        position: state.position,
        failures: state.failures,
        retryInMs: delay,
        err: error,
      },
      what,
    );
    return delay;
  }

  /** One projection's subscription loop; resubscribes from the checkpoint after errors. */
  private async run(state: State, signal: AbortSignal): Promise<void> {
    const name = state.projection.name;
    while (!signal.aborted) {
      // Ends this subscription's read-ahead when the loop leaves it (resubscribe, error).
      const subscription = new AbortController();
      let next: Promise<Delivery | undefined>;
      try {
        await ensureCheckpoint(this.options.db, name);
        const checkpoint = await readCheckpoint(this.options.db, name);
        this.follow(state, checkpoint);
        state.committed = checkpoint;
        state.committedAt = Date.now();
        if (state.failures > 0) {
          // Recovering from a failed subscription: check that the event store answers again.
          await this.options.store.headPosition();
          this.recovered(state);
        }
        // The position the subscription has delivered up to.
        let cursor = checkpoint;
        const batches = this.options.store
          .subscribeToAll({
            after: cursor,
            batchSize: this.batchSize,
            signal: AbortSignal.any([signal, subscription.signal]),
          })
          [Symbol.asyncIterator]();
        // Reads the next batch and prepares it, ahead of its turn. A failed read is met
        // when the loop awaits it (marked handled now: it may fail before then).
        const readAhead = (): Promise<Delivery | undefined> => {
          const delivery = batches.next().then((result) => {
            if (result.done) return undefined;
            return { batch: result.value, ...this.prepare(state.projection, result.value) };
          });
          delivery.catch(() => {});
          return delivery;
        };
        next = readAhead();
        for (;;) {
          if (cursor > state.committed) {
            // Progress over unhandled events is not in the checkpoint row yet: write it when
            // due, unless a batch comes first (its transaction writes it).
            const due = state.committedAt + this.checkpointIntervalMs - Date.now();
            if (due <= 0 || !(await settlesWithin(next, due, signal))) {
              if (signal.aborted) break;
              const outcome = await this.processWithRetry(state, [], cursor, signal, NOTHING);
              if (outcome !== 'done') break; // stopping, or resubscribing from the checkpoint
              continue;
            }
          }
          const delivery = await next;
          if (!delivery || signal.aborted) break;
          const { batch } = delivery;
          // The next batch is read and prepared while this one is written: from the moment
          // its write is sent (so that Node works while PostgreSQL does), or right after.
          let readingAhead = false;
          const readNext = () => {
            if (readingAhead) return;
            readingAhead = true;
            next = readAhead();
          };
          if (batch.length === 0) {
            readNext();
            continue;
          }
          const outcome = await this.processWithRetry(state, batch, cursor, signal, delivery, readNext);
          if (outcome !== 'done') break; // stopping, or resubscribing from the checkpoint
          readNext();
          cursor = batch.at(-1)?.globalPosition ?? cursor;
        }
      } catch (error) {
        if (signal.aborted) break;
        await sleep(this.recordFailure(state, error, 'projection subscription failed'), signal);
      } finally {
        // Ends the read-ahead, if any, of the subscription left.
        subscription.abort();
      }
    }
    await this.writePending(state);
  }

  /** On stop: one attempt to bring the checkpoint row up to the position over unhandled events. */
  private async writePending(state: State): Promise<void> {
    if (state.position <= state.committed) return;
    try {
      await this.processBatch(state, [], state.position, NOTHING);
    } catch (error) {
      this.options.logger?.warn(
        { projection: state.projection.name, position: state.position, err: error },
        'projection checkpoint not written on stop; a restart reads those events again',
      );
    }
  }

  /**
   * Takes a checkpoint read from the database as this process's view of it. Positions only
   * grow, except when a batch transaction found the checkpoint below its subscription (moved
   * back by hand: never by the runner or a rebuild).
   */
  private follow(state: State, checkpoint: number, movedBack = false): void {
    if (movedBack && checkpoint < state.position) {
      this.options.logger?.warn(
        { projection: state.projection.name, from: state.position, to: checkpoint },
        'projection checkpoint moved backwards; following it',
      );
      state.position = checkpoint;
    }
    this.advance(state, checkpoint);
  }

  /**
   * Works out a batch's write as far as it can without the database. Errors are left for
   * processBatch to meet again, where they fail the batch (which is then retried).
   */
  private prepare(projection: Projection, batch: readonly RecordedEvent[]): Prepared {
    let handled: RecordedDomainEvent[];
    try {
      handled = handledEvents(projection, batch);
    } catch {
      return { handled: undefined, write: undefined };
    }
    if (handled.length === 0 || !projection.prepare) return { handled, write: undefined };
    try {
      return { handled, write: projection.prepare(handled) };
    } catch {
      return { handled, write: undefined };
    }
  }

  private async processWithRetry(
    state: State,
    batch: readonly RecordedEvent[],
    cursor: number,
    signal: AbortSignal,
    prepared: Prepared,
    whileWriting?: () => void,
  ): Promise<BatchOutcome> {
    for (;;) {
      const started = process.hrtime.bigint();
      try {
        const result = await this.processBatch(state, batch, cursor, prepared, whileWriting);
        this.recovered(state);
        this.follow(state, result.position, result.movedBack);
        if (result.resubscribe) return 'resubscribe';
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        if (result.events > 0) {
          this.options.onBatch?.({
            name: state.projection.name,
            events: result.events,
            seconds,
            position: result.position,
          });
        }
        return 'done';
      } catch (error) {
        if (signal.aborted) return 'aborted';
        await sleep(this.recordFailure(state, error, 'projection batch failed; retrying'), signal);
        if (signal.aborted) return 'aborted';
      }
    }
  }

  /**
   * Applies `batch`, whose events follow `cursor` (where the subscription stood). A batch
   * without events the projection handles only moves the position, unless the checkpoint row
   * is due (an empty batch is that write). Otherwise its write joins the read-model
   * transaction of this turn of the event loop (see `flush`), which locks the checkpoint,
   * applies the events after it and moves it to the batch's last position.
   * `resubscribe` means the checkpoint is not where this subscription can continue from:
   * another runner or a rebuild got past the batch, or it was moved back by hand.
   */
  private async processBatch(
    state: State,
    batch: readonly RecordedEvent[],
    cursor: number,
    prepared: Prepared,
    whileWriting?: () => void,
  ): Promise<BatchResult> {
    const last = batch.at(-1)?.globalPosition ?? cursor;
    // Checked against the catalogue before the transaction (when read, or here): an invalid
    // event throws, and the batch is retried.
    const handled = prepared.handled ?? handledEvents(state.projection, batch);
    if (
      handled.length === 0 &&
      batch.length > 0 &&
      Date.now() - state.committedAt < this.checkpointIntervalMs
    ) {
      return { position: last, events: batch.length, resubscribe: false, movedBack: false };
    }
    const result = await new Promise<BatchResult>((resolve, reject) => {
      this.writes.push({ state, batch, last, handled, prepared, whileWriting, resolve, reject });
      if (this.writes.length === 1) setImmediate(() => void this.flush());
    });
    if (!result.resubscribe) {
      state.committed = result.position;
      state.committedAt = Date.now();
    }
    return result;
  }

  /**
   * Commits the writes queued in one turn of the event loop. The projections wake on the same
   * append and read it together (the event store shares the read), so their writes arrive
   * together: one transaction for all of them, with one statement locking their checkpoints
   * and one moving them. Should it fail, each write is tried again in a transaction of its
   * own, so that only the projection at fault waits and retries.
   */
  private async flush(): Promise<void> {
    const writes = this.writes;
    this.writes = [];
    if (writes.length > 1) {
      try {
        const results = await this.commit(writes);
        for (const [i, write] of writes.entries()) write.resolve(results[i]!);
        return;
      } catch {
        // Each alone, below: the failing one meets its error again.
      }
    }
    await Promise.all(
      writes.map(async (write) => {
        try {
          write.resolve((await this.commit([write]))[0]!);
        } catch (error) {
          write.reject(error);
        }
      }),
    );
  }

  /** One read-model transaction for `writes` (one per projection); their results in order. */
  private commit(writes: readonly Write[]): Promise<BatchResult[]> {
    return this.options.db.transaction().execute(async (trx) => {
      const checkpoints = await lockCheckpoints(
        trx,
        writes.map((w) => w.state.projection.name),
      );
      const results: BatchResult[] = [];
      const moves: Array<{ name: string; position: number }> = [];
      for (const { state, batch, last, handled, prepared, whileWriting } of writes) {
        const { projection } = state;
        const checkpoint = checkpoints.get(projection.name) ?? 0;
        if (checkpoint >= last || checkpoint < state.committed) {
          results.push({
            position: checkpoint,
            events: 0,
            resubscribe: checkpoint !== last,
            movedBack: checkpoint < state.committed,
          });
          continue;
        }
        // Events between `committed` and the checkpoint were applied elsewhere or not handled.
        const fresh = handled.filter((e) => e.globalPosition > checkpoint);
        const writing =
          fresh.length === handled.length && prepared.write
            ? prepared.write(trx)
            : fresh.length > 0
              ? projection.apply(trx, fresh)
              : Promise.resolve();
        whileWriting?.();
        await writing;
        moves.push({ name: projection.name, position: last });
        results.push({
          position: last,
          events: batch.filter((e) => e.globalPosition > checkpoint).length,
          resubscribe: false,
          movedBack: false,
        });
      }
      await setCheckpoints(trx, moves);
      return results;
    });
  }
}
