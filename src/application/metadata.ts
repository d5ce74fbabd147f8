import type { EventMetadata } from '../domain/events/envelope.js';
import type { IdGenerator, RequestContext } from './ports.js';

/** The envelope metadata of events caused by a request. `overrides` name a different actor. */
export function metadataFor(
  context: RequestContext,
  overrides: Partial<EventMetadata['actor']> = {},
  causationId?: string,
): EventMetadata {
  const actor: EventMetadata['actor'] = {
    ...(context.actor
      ? {
          userId: context.actor.userId,
          applicationId: context.actor.applicationId,
          sessionId: context.actor.sessionId,
          ...(context.actor.userString === null ? {} : { userString: context.actor.userString }),
        }
      : {}),
    clientIp: context.clientIp,
    ...(context.clientPort === undefined ? {} : { clientPort: context.clientPort }),
    ...overrides,
  };
  return {
    envelopeVersion: 1,
    correlationId: context.correlationId,
    ...(causationId === undefined ? {} : { causationId }),
    actor,
  };
}

/** The envelope metadata of what Sluice records by itself (no request, no actor). */
export function systemMetadata(ids: IdGenerator): EventMetadata {
  return { envelopeVersion: 1, correlationId: ids.uuid(), actor: {} };
}
