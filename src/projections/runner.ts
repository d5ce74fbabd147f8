/**
 * Runs projections: each one consumes `$all` through its own subscription, from its
 * checkpoint, and commits every batch as one read-model transaction that
 *
 *   1. locks its checkpoint row (`SELECT … FOR UPDATE`),
 *   2. skips the batch's events at or below the checkpoint (another runner, in this or another
 *      process, or a rebuild already applied them),
 *   3. applies the rest and moves the checkpoint to the batch's last position,
 *
 * so each event takes effect exactly once, across crashes and across processes. A failed
 * batch rolls back and is retried with capped exponential back-off; no event is ever
 * skipped. `waitForPosition` lets a query wait until a command's events are visible.
 */
import { EventEmitter } from 'node:events';
import type { Kysely } from 'kysely';
import type { ReadModel } from '../adapters/readmodel/schema.js';
import type { EventStore, RecordedEvent } from '../domain/event-store.js';
import { ensureCheckpoint, lockCheckpoint, readCheckpoint, setCheckpoint } from './checkpoints.js';
import { handledEvents, type Projection } from './projection.js';
import { rebuildProjection } from './rebuild.js';

export interface ProjectionLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ProjectionRunnerOptions {
  readonly store: EventStore;
  readonly db: Kysely<ReadModel>;
  readonly projections: readonly Projection[];
  /** Most events per batch (and per read-model transaction); default 500. */
  readonly batchSize?: number;
  readonly logger?: ProjectionLogger;
  /** Observes each committed batch (metrics). */
  readonly onBatch?: (batch: BatchReport) => void;
  /** Back-off between retries of a failed batch: doubles from `initialMs` up to `maxMs`. */
  readonly retry?: { readonly initialMs?: number; readonly maxMs?: number };
  /** Passed to rebuilds: how long a swap waits for readers of the live tables; default 5 s. */
  readonly rebuildLockTimeoutMs?: number;
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
  position: number;
  failures: number;
  lastError?: { message: string; at: Date };
  rebuilding: boolean;
}

type BatchOutcome = 'done' | 'resubscribe' | 'aborted';

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

export class ProjectionRunner {
  private readonly states = new Map<string, State>();
  private readonly advanced = new EventEmitter();
  private readonly batchSize: number;
  private controller: AbortController | undefined;
  private loops: Promise<void>[] = [];

  constructor(private readonly options: ProjectionRunnerOptions) {
    this.batchSize = options.batchSize ?? 500;
    if (!Number.isSafeInteger(this.batchSize) || this.batchSize < 1) {
      throw new RangeError('batchSize must be a positive integer');
    }
    for (const projection of options.projections) {
      if (this.states.has(projection.name)) throw new Error(`duplicate projection name ${projection.name}`);
      if (projection.tables.includes('projection_checkpoints')) {
        throw new Error(`projection ${projection.name} must not own projection_checkpoints`);
      }
      this.states.set(projection.name, { projection, position: 0, failures: 0, rebuilding: false });
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

  /** Ends the subscriptions; resolves once every in-flight batch has committed or rolled back. */
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
      try {
        await ensureCheckpoint(this.options.db, name);
        const checkpoint = await readCheckpoint(this.options.db, name);
        this.follow(state, checkpoint);
        if (state.failures > 0) {
          // Recovering from a failed subscription: check that the event store answers again.
          await this.options.store.headPosition();
          this.recovered(state);
        }
        // The position the subscription has delivered up to.
        let cursor = checkpoint;
        const batches = this.options.store.subscribeToAll({
          after: cursor,
          batchSize: this.batchSize,
          signal,
        });
        for await (const batch of batches) {
          if (signal.aborted) return;
          const outcome = await this.processWithRetry(state, batch, cursor, signal);
          if (outcome === 'aborted') return;
          if (outcome === 'resubscribe') break;
          cursor = batch.at(-1)?.globalPosition ?? cursor;
        }
      } catch (error) {
        if (signal.aborted) return;
        await sleep(this.recordFailure(state, error, 'projection subscription failed'), signal);
      }
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

  private async processWithRetry(
    state: State,
    batch: readonly RecordedEvent[],
    cursor: number,
    signal: AbortSignal,
  ): Promise<BatchOutcome> {
    for (;;) {
      const started = process.hrtime.bigint();
      try {
        const result = await this.processBatch(state.projection, batch, cursor);
        this.recovered(state);
        this.follow(state, result.position, result.movedBack);
        if (result.resubscribe) return 'resubscribe';
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        this.options.onBatch?.({
          name: state.projection.name,
          events: result.events,
          seconds,
          position: result.position,
        });
        return 'done';
      } catch (error) {
        if (signal.aborted) return 'aborted';
        await sleep(this.recordFailure(state, error, 'projection batch failed; retrying'), signal);
        if (signal.aborted) return 'aborted';
      }
    }
  }

  /**
   * One read-model transaction: lock the checkpoint, apply the batch's events after it, and
   * move it to the batch's last position. `cursor` is where the subscription stood before
   * this batch. `resubscribe` means the checkpoint is not where this subscription can
   * continue from: another runner or a rebuild got past the batch, or it was moved back.
   */
  private processBatch(
    projection: Projection,
    batch: readonly RecordedEvent[],
    cursor: number,
  ): Promise<{ position: number; events: number; resubscribe: boolean; movedBack: boolean }> {
    const last = batch.at(-1)?.globalPosition ?? cursor;
    return this.options.db.transaction().execute(async (trx) => {
      const checkpoint = await lockCheckpoint(trx, projection.name);
      if (checkpoint >= last || checkpoint < cursor) {
        return {
          position: checkpoint,
          events: 0,
          resubscribe: checkpoint !== last,
          movedBack: checkpoint < cursor,
        };
      }
      const fresh = batch.filter((e) => e.globalPosition > checkpoint);
      const handled = handledEvents(projection, fresh);
      if (handled.length > 0) await projection.apply(trx, handled);
      await setCheckpoint(trx, projection.name, last);
      return { position: last, events: fresh.length, resubscribe: false, movedBack: false };
    });
  }
}
