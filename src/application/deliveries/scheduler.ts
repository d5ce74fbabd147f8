/**
 * Schedules deliveries for the reactions (projections/flows-view.ts, notifiers-view.ts): each
 * is appended to its own stream only if that stream does not exist yet, so the same cause
 * replayed (after a crash, by a second process, by a rebuild) schedules it once.
 */
import { deliveryDecider } from '../../domain/deliveries/delivery.js';
import type { EventStore } from '../../domain/event-store.js';
import { deliveryStream } from '../../domain/events/delivery-events.js';
import type { DeliveryScheduler, ScheduledDelivery } from '../../projections/flows-view.js';
import { handleCommand } from '../command-handler.js';
import type { IdGenerator } from '../ports.js';
import { reactionMetadata } from './reaction-metadata.js';

export function deliveryScheduler(store: EventStore, ids: IdGenerator): DeliveryScheduler {
  return {
    async schedule(deliveries: readonly ScheduledDelivery[]) {
      for (const delivery of deliveries) {
        await handleCommand(
          store,
          deliveryStream(delivery.deliveryId),
          deliveryDecider,
          { type: 'Schedule', delivery },
          reactionMetadata(ids, delivery.deliveryId, delivery.cause.eventId),
        );
      }
    },
  };
}
