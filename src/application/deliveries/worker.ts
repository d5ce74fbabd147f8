/**
 * Performs due deliveries (delivery-events.ts, docs/flows.md). It asks the deliveries view
 * what is due, claims each attempt by appending `DeliveryAttempted` at the stream's revision
 * (so of several processes exactly one performs it), runs the effect of the delivery's kind,
 * and records how it went. An effect gets the delivery id as its idempotency key and an
 * AbortSignal that fires before the attempt's lease runs out; a process killed mid-attempt
 * leaves the attempt open, and once its lease has passed any process records it abandoned and
 * tries again.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import type { ReadModel } from '../../adapters/readmodel/schema.js';
import { DomainError } from '../../domain/decider.js';
import { type DeliveryCommand, deliveryDecider } from '../../domain/deliveries/delivery.js';
import type { RetryPolicy } from '../../domain/deliveries/retry-policy.js';
import type { EventStore } from '../../domain/event-store.js';
import type { EventOfType } from '../../domain/events/catalogue.js';
import { deliveryStream } from '../../domain/events/delivery-events.js';
import { handleCommand } from '../command-handler.js';
import type { Clock, IdGenerator } from '../ports.js';
import { isRetryable } from './delivery-error.js';
import { reactionMetadata } from './reaction-metadata.js';

type Scheduled = EventOfType<'DeliveryScheduled'>['data'];
export type DeliveryKind = Scheduled['kind'];

/** A delivery whose attempt this process has claimed. */
export interface DueDelivery {
  readonly deliveryId: string;
  readonly kind: DeliveryKind;
  readonly ownerId: string;
  readonly causePosition: number;
  readonly causeType: string;
  readonly file: Scheduled['file'];
  readonly attempt: number;
}

export interface EffectResult {
  /** For people: what the effect amounted to. */
  readonly result: string;
  /** A scan's verdict, recorded with the success. */
  readonly scanned?: EventOfType<'UploadScanned'>;
}

/** Performs one attempt; throws (DeliveryError or anything) when it failed. */
export type Effect = (delivery: DueDelivery, signal: AbortSignal) => Promise<EffectResult>;

export interface DeliveryLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface DeliveryWorkerOptions {
  readonly store: EventStore;
  readonly db: Kysely<ReadModel>;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly effects: Partial<Record<DeliveryKind, Effect>>;
  readonly policy: RetryPolicy;
  /** How long an attempt may run before others may take it as abandoned. */
  readonly leaseMs: number;
  /** How often to ask what is due when nothing wakes the worker sooner. */
  readonly pollMs: number;
  /**
   * The deliveries view's progress: the worker looks again as soon as the view moves past what
   * it had seen (a delivery scheduled, requeued, or failed and due later), not only every
   * `pollMs`.
   */
  readonly view?: {
    position(): number;
    /** Resolves once the view is past `position`, or after `timeoutMs`. */
    waitBeyond(position: number, timeoutMs: number): Promise<unknown>;
  };
  /** Attempts under way at once in this process. */
  readonly concurrency: number;
  readonly logger: DeliveryLogger;
  /** Observes each finished attempt (metrics). */
  readonly onAttempt?: (kind: DeliveryKind, outcome: 'succeeded' | 'failed') => void;
}

const errorText = (error: unknown) => (error instanceof Error ? error.message || error.name : String(error));

export class DeliveryWorker {
  private readonly running = new Map<string, Promise<void>>();
  /** Ends the current wait early: an attempt finished, so a slot is free. */
  private wake: (() => void) | undefined;
  private controller: AbortController | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: DeliveryWorkerOptions) {}

  start(): void {
    if (this.controller) throw new Error('delivery worker already started');
    const controller = new AbortController();
    this.controller = controller;
    this.loop = this.run(controller.signal);
  }

  /** Stops claiming; attempts under way are told to stop and awaited. */
  async stop(): Promise<void> {
    const controller = this.controller;
    if (!controller) return;
    controller.abort();
    await this.loop;
    await Promise.allSettled([...this.running.values()]);
    this.controller = undefined;
  }

  private async run(signal: AbortSignal): Promise<void> {
    const { pollMs, view } = this.options;
    while (!signal.aborted) {
      const seen = view?.position() ?? 0;
      const woken = new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      try {
        await this.claimDue(signal);
      } catch (error) {
        this.options.logger.warn({ err: error }, 'could not look for due deliveries');
      }
      const waits: Promise<unknown>[] = [delay(pollMs, undefined, { signal }).catch(() => undefined), woken];
      // A full house waits for a slot; otherwise news in the view is worth a look too.
      if (view && this.running.size < this.options.concurrency) waits.push(view.waitBeyond(seen, pollMs));
      await Promise.race(waits);
    }
  }

  private async claimDue(signal: AbortSignal): Promise<void> {
    const free = this.options.concurrency - this.running.size;
    if (free <= 0) return;
    const kinds = Object.keys(this.options.effects) as DeliveryKind[];
    if (kinds.length === 0) return;
    let query = this.options.db
      .selectFrom('deliveries')
      .select(['delivery_id', 'kind', 'owner_id', 'cause_position', 'cause_type', 'file'])
      .where('due_at', '<=', this.options.clock.now())
      .where('kind', 'in', kinds)
      .orderBy('due_at')
      .limit(free + this.running.size);
    if (this.running.size > 0) query = query.where('delivery_id', 'not in', [...this.running.keys()]);
    for (const row of (await query.execute()).slice(0, free)) {
      if (signal.aborted) return;
      const attempt = await this.claim(row.delivery_id);
      if (attempt === undefined) continue;
      const due: DueDelivery = {
        deliveryId: row.delivery_id,
        kind: row.kind as DeliveryKind,
        ownerId: row.owner_id,
        causePosition: Number(row.cause_position),
        causeType: row.cause_type,
        file: row.file as Scheduled['file'],
        attempt,
      };
      const work = this.perform(due, signal).finally(() => {
        this.running.delete(due.deliveryId);
        this.wake?.();
      });
      this.running.set(due.deliveryId, work);
    }
  }

  /** Claims the next attempt; undefined when another process has it, or it is not due (any more). */
  private async claim(deliveryId: string): Promise<number | undefined> {
    const { store, clock, ids, leaseMs, policy } = this.options;
    try {
      const { events } = await handleCommand(
        store,
        deliveryStream(deliveryId),
        deliveryDecider,
        (): DeliveryCommand => ({ type: 'Claim', deliveryId, now: clock.now(), leaseMs, policy }),
        reactionMetadata(ids, deliveryId),
      );
      const claimed = events.find((e) => e.type === 'DeliveryAttempted');
      return claimed?.type === 'DeliveryAttempted' ? claimed.data.attempt : undefined;
    } catch (error) {
      if (error instanceof DomainError) return undefined;
      throw error;
    }
  }

  private async perform(delivery: DueDelivery, stopping: AbortSignal): Promise<void> {
    const { store, clock, ids, policy, leaseMs, logger } = this.options;
    const effect = this.options.effects[delivery.kind]!;
    // Give up a little before the lease ends, so no other process starts while this one runs.
    const signal = AbortSignal.any([
      stopping,
      AbortSignal.timeout(Math.max(1, leaseMs - Math.min(5000, leaseMs / 10))),
    ]);
    const metadata = reactionMetadata(ids, delivery.deliveryId, undefined, delivery.file?.userId);
    const stream = deliveryStream(delivery.deliveryId);
    const { deliveryId, attempt } = delivery;
    try {
      const outcome = await effect(delivery, signal);
      await handleCommand(
        store,
        stream,
        deliveryDecider,
        {
          type: 'Succeed',
          deliveryId,
          attempt,
          result: outcome.result,
          ...(outcome.scanned ? { scanned: outcome.scanned } : {}),
        },
        metadata,
      );
      this.options.onAttempt?.(delivery.kind, 'succeeded');
      logger.info({ deliveryId, kind: delivery.kind, attempt, result: outcome.result }, 'delivery done');
    } catch (error) {
      if (stopping.aborted) return; // Stopping: the lease lets the next start take it up again.
      const retryable = isRetryable(error);
      try {
        await handleCommand(
          store,
          stream,
          deliveryDecider,
          { type: 'Fail', deliveryId, attempt, error: errorText(error), retryable, now: clock.now(), policy },
          metadata,
        );
      } catch (recordError) {
        logger.warn({ deliveryId, err: recordError }, 'could not record a failed delivery attempt');
      }
      this.options.onAttempt?.(delivery.kind, 'failed');
      logger.warn(
        { deliveryId, kind: delivery.kind, attempt, retryable, err: error },
        'delivery attempt failed',
      );
    }
  }
}
