import { BuiltInApplication } from '../../domain/applications/built-in.js';
import type { EventMetadata } from '../../domain/events/envelope.js';
import type { IdGenerator } from '../ports.js';

/**
 * The metadata of what Sluice does by itself for a delivery: application 5 (Sluice flows), the
 * delivery id as the session, caused by the event that caused the delivery.
 */
export function reactionMetadata(
  ids: IdGenerator,
  deliveryId: string,
  causationId?: string,
  userId?: number,
): EventMetadata {
  return {
    envelopeVersion: 1,
    correlationId: ids.uuid(),
    ...(causationId === undefined ? {} : { causationId }),
    actor: {
      ...(userId === undefined ? {} : { userId }),
      applicationId: BuiltInApplication.flows,
      sessionId: deliveryId,
    },
  };
}
