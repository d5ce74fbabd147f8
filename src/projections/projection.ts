/**
 * A projection turns events into read-model rows. The runner (runner.ts) feeds it batches in
 * global-position order and commits its writes together with its checkpoint, so `apply` must
 * not keep state of its own, must not be idempotent by design (exactly-once comes from the
 * checkpoint), and must write only its own `tables`, only through the Kysely instance it is
 * given, never naming a schema: a rebuild hands it a transaction bound to a scratch schema.
 */
import type { Kysely } from 'kysely';
import type { ReadModel } from '../adapters/readmodel/schema.js';
import type { RecordedEvent } from '../domain/event-store.js';
import { asDomainEvent, type DomainEventType, type RecordedDomainEvent } from '../domain/events/catalogue.js';

/** `handles` of a projection that takes every event of the log as recorded. */
export const EVERY_EVENT = 'every event';

interface ProjectionOf<Handles, Event> {
  /** Stable name; the key of its checkpoint row. Renaming it rebuilds from position 0. */
  readonly name: string;
  /** The event types `apply` receives; other events only advance the checkpoint. */
  readonly handles: Handles;
  /** The tables it owns (and that `rebuild` replaces); created by a read-model migration. */
  readonly tables: readonly string[];
  /**
   * Writes the effect of `events` (non-empty, in global order, all of `handles`' types)
   * inside `trx`, a transaction. Throwing rolls the whole batch back; it is retried.
   */
  apply(trx: Kysely<ReadModel>, events: readonly Event[]): Promise<void>;
  /**
   * Optional: `apply` split in two, for projections whose writes take real work to build.
   * `prepare(events)` does everything that needs no database (it must not depend on rows
   * written by earlier batches) and returns the write; the runner calls it as soon as the batch
   * is read, while the batch before is still being written. `prepare(events)(trx)` must do
   * exactly what `apply(trx, events)` does.
   */
  prepare?(events: readonly Event[]): (trx: Kysely<ReadModel>) => Promise<void>;
}

/**
 * A view of the domain: it receives the events of the types it names, checked against the
 * catalogue; or a view of the log itself (the Merkle tree), which receives every event as
 * recorded, unchecked, whatever its type.
 */
export type Projection = DomainProjection | LogProjection;
export type DomainProjection = ProjectionOf<readonly DomainEventType[], RecordedDomainEvent>;
export type LogProjection = ProjectionOf<typeof EVERY_EVENT, RecordedEvent>;

/** Each projection's `handles` as a set (some views take most of the catalogue's ~60 types). */
const handledTypes = new WeakMap<readonly string[], ReadonlySet<string>>();

/**
 * The events of `batch` that `projection` handles, checked against the catalogue. An invalid
 * event throws (`InvalidEvent`): the batch is retried, never silently skipped.
 */
export function handledEvents(
  projection: Projection,
  batch: readonly RecordedEvent[],
): RecordedDomainEvent[] {
  // An EVERY_EVENT projection declares RecordedEvent and reads them as such.
  if (projection.handles === EVERY_EVENT) return batch as RecordedDomainEvent[];
  let types = handledTypes.get(projection.handles);
  if (!types) {
    types = new Set(projection.handles);
    handledTypes.set(projection.handles, types);
  }
  const handled: RecordedDomainEvent[] = [];
  for (const event of batch) {
    if (!types.has(event.type)) continue;
    const domainEvent = asDomainEvent(event);
    if (domainEvent) handled.push(domainEvent);
  }
  return handled;
}
