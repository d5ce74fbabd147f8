/**
 * The `deliveries` view: each delivery as its stream stands (state, attempts, the revision
 * the next claim appends at, when it is due). The delivery worker asks it what is due; the
 * API lists it (the dead letters are its `dead` rows).
 */
import type { Kysely } from 'kysely';
import type { ReadModel } from '../adapters/readmodel/schema.js';
import type { RecordedDomainEvent } from '../domain/events/catalogue.js';
import type { DomainProjection } from './projection.js';

type DeliveryEvent = Extract<
  RecordedDomainEvent,
  {
    type:
      | 'DeliveryScheduled'
      | 'DeliveryAttempted'
      | 'DeliveryAttemptFailed'
      | 'DeliverySucceeded'
      | 'DeliveryDeadLettered'
      | 'DeliveryRequeued';
  }
>;

function change(event: DeliveryEvent) {
  const common = {
    revision: event.streamRevision,
    updated_at: event.recordedAt,
    updated_position: event.globalPosition,
  };
  switch (event.type) {
    case 'DeliveryScheduled':
      return undefined;
    case 'DeliveryAttempted':
      return { ...common, state: 'attempting', attempts: event.data.attempt, due_at: event.data.leaseUntil };
    case 'DeliveryAttemptFailed':
      return { ...common, state: 'waiting', last_error: event.data.error, due_at: event.data.retryAt };
    case 'DeliverySucceeded':
      return { ...common, state: 'succeeded', result: event.data.result, due_at: null };
    case 'DeliveryDeadLettered':
      return { ...common, state: 'dead', last_error: event.data.reason, due_at: null };
    case 'DeliveryRequeued':
      return { ...common, state: 'scheduled', due_at: event.recordedAt };
  }
}

export const deliveriesView: DomainProjection = {
  name: 'deliveries',
  handles: [
    'DeliveryScheduled',
    'DeliveryAttempted',
    'DeliveryAttemptFailed',
    'DeliverySucceeded',
    'DeliveryDeadLettered',
    'DeliveryRequeued',
    'UploadScanned',
  ],
  tables: ['deliveries'],
  async apply(trx: Kysely<ReadModel>, events) {
    for (const event of events) {
      if (event.type === 'UploadScanned') {
        // Its DeliverySucceeded follows in the same append; the stream's revision moves there.
        continue;
      }
      if (event.type === 'DeliveryScheduled') {
        const { data } = event;
        await trx
          .insertInto('deliveries')
          .values({
            delivery_id: data.deliveryId,
            kind: data.kind,
            owner_id: data.ownerId,
            state: 'scheduled',
            attempts: 0,
            revision: event.streamRevision,
            due_at: event.recordedAt,
            cause_position: data.cause.position,
            cause_type: data.cause.type,
            file: data.file === null ? null : JSON.stringify(data.file),
            last_error: null,
            result: null,
            scheduled_at: event.recordedAt,
            updated_at: event.recordedAt,
            updated_position: event.globalPosition,
          })
          .onConflict((oc) => oc.column('delivery_id').doNothing())
          .execute();
        continue;
      }
      const delivery = event as DeliveryEvent;
      const set = change(delivery);
      if (set)
        await trx
          .updateTable('deliveries')
          .set(set)
          .where('delivery_id', '=', delivery.data.deliveryId)
          .execute();
    }
  },
};
