/**
 * Deliveries: the side effects Sluice performs because of an event (a flow moving a file, a
 * notification, a scan of an upload). Each is one stream, `delivery-<deliveryId>`, whose id
 * is derived from what caused it (the reaction and the causing event), so scheduling it twice
 * appends nothing the second time. Every attempt is claimed by an event before it starts
 * (appended at the stream's exact revision: one claimant wins across processes) and ends in
 * an event saying how it went; an attempt a crash cut short is recorded as abandoned when its
 * lease runs out, and tried again with the same delivery id, which each effect uses as its
 * idempotency key (docs/flows.md).
 */
import { Type } from '@sinclair/typebox';
import { VirtualPath } from './file-events.js';
import { Sha256Hex } from './log-events.js';
import { eventSchema, Text, Timestamp, UserId, Uuid } from './schema-helpers.js';

export const DeliveryKind = Type.Union([
  Type.Literal('flow'),
  Type.Literal('notification'),
  Type.Literal('scan'),
]);

/** A file a delivery is about, as its upload recorded it. */
export const DeliveryFile = Type.Object(
  {
    userId: UserId,
    path: VirtualPath,
    size: Type.Integer({ minimum: 0 }),
    sha256: Sha256Hex,
  },
  { additionalProperties: false },
);

export const DeliveryScheduled = eventSchema('DeliveryScheduled', {
  deliveryId: Uuid,
  kind: DeliveryKind,
  /** The flow or notifier it serves; for scans, the upload's stream. */
  ownerId: Text(128, 1),
  cause: Type.Object(
    { eventId: Uuid, position: Type.Integer({ minimum: 1 }), type: Text(64, 1) },
    { additionalProperties: false },
  ),
  file: Type.Union([DeliveryFile, Type.Null()]),
});

export const DeliveryAttempted = eventSchema('DeliveryAttempted', {
  deliveryId: Uuid,
  attempt: Type.Integer({ minimum: 1 }),
  /** Past this time an unfinished attempt counts as abandoned (its process died). */
  leaseUntil: Timestamp,
});

export const DeliveryAttemptFailed = eventSchema('DeliveryAttemptFailed', {
  deliveryId: Uuid,
  attempt: Type.Integer({ minimum: 1 }),
  error: Text(1000, 1),
  retryable: Type.Boolean(),
  /** When the next attempt is due; null when there is none (dead-lettered). */
  retryAt: Type.Union([Timestamp, Type.Null()]),
});

export const DeliverySucceeded = eventSchema('DeliverySucceeded', {
  deliveryId: Uuid,
  attempt: Type.Integer({ minimum: 1 }),
  /** What the effect amounted to, for people (`sent 4096 bytes`, `already there`, `HTTP 204`). */
  result: Text(1000, 1),
});

export const DeliveryDeadLettered = eventSchema('DeliveryDeadLettered', {
  deliveryId: Uuid,
  attempts: Type.Integer({ minimum: 1 }),
  reason: Text(1000, 1),
});

export const DeliveryRequeued = eventSchema('DeliveryRequeued', { deliveryId: Uuid });

/** A scan (the post-processing hook) judged an upload; appended with its DeliverySucceeded. */
export const UploadScanned = eventSchema('UploadScanned', {
  deliveryId: Uuid,
  file: DeliveryFile,
  verdict: Type.Union([Type.Literal('clean'), Type.Literal('rejected')]),
  reason: Text(500),
  /** Where a rejected file was moved, out of every user's reach; null when clean. */
  quarantinedAs: Type.Union([Text(200, 1), Type.Null()]),
});

export const deliveryStream = (deliveryId: string) => `delivery-${deliveryId}`;
