/** Request and response schemas of flows and deliveries: validation, TypeScript types and OpenAPI. */
import { type Static, Type } from '@sinclair/typebox';
import { DELIVERY_STATES } from '../../domain/deliveries/delivery.js';
import { DeliveryFile, DeliveryKind } from '../../domain/events/delivery-events.js';
import { VirtualPath } from '../../domain/events/file-events.js';
import { FlowMatch, FlowTarget, FlowTrigger } from '../../domain/events/flow-events.js';
import { NotificationFilter, NotifierChannel } from '../../domain/events/notifier-events.js';
import { Secret, Text, UserId, Uuid } from '../../domain/events/schema-helpers.js';
import { NOTIFICATION_FILTER_MAX_ENTRIES } from '../../domain/reactions/notification-filter.js';
import { auditOperations } from '../../projections/audit/rows.js';
import { PageQuery } from '../paging.js';

export const FlowBody = Type.Object(
  {
    name: Text(100, 1, { examples: ['Partner inbox to finance'] }),
    sourceUserId: UserId,
    sourceFolder: VirtualPath,
    match: FlowMatch,
    trigger: Type.Optional(Type.Union([FlowTrigger, Type.Null()])),
    target: FlowTarget,
    keepSource: Type.Optional(Type.Boolean({ default: false })),
    /** For an SFTP target: its password or private key (kept in the credential store, never returned). */
    credentials: Type.Optional(
      Type.Union([
        Type.Object({ password: Secret(1024, 1) }, { additionalProperties: false }),
        Type.Object({ privateKey: Secret(16384, 1) }, { additionalProperties: false }),
      ]),
    ),
  },
  { additionalProperties: false },
);
export type FlowBody = Static<typeof FlowBody>;

export const FlowSchema = Type.Object({
  flowId: Uuid,
  name: Type.String(),
  sourceUserId: Type.Integer(),
  sourceFolder: Type.String(),
  match: FlowMatch,
  trigger: Type.Union([FlowTrigger, Type.Null()]),
  target: FlowTarget,
  keepSource: Type.Boolean(),
  position: Type.Optional(Type.Integer()),
});

export const FlowParams = Type.Object({ flowId: Uuid });
export const FlowListQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });

export const DeliveryState = Type.Union(DELIVERY_STATES.map((s) => Type.Literal(s)));

export const DeliverySchema = Type.Object({
  deliveryId: Uuid,
  kind: DeliveryKind,
  ownerId: Type.String(),
  state: DeliveryState,
  attempts: Type.Integer(),
  dueAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  causePosition: Type.Integer(),
  causeType: Type.String(),
  file: Type.Union([DeliveryFile, Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  result: Type.Union([Type.String(), Type.Null()]),
  scheduledAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

export const DeliveryListQuery = Type.Object(
  {
    ...PageQuery,
    state: Type.Optional(DeliveryState),
    kind: Type.Optional(DeliveryKind),
    ownerId: Type.Optional(Text(128, 1, { description: 'A flow or notifier id' })),
  },
  { additionalProperties: false },
);
export const DeliveryParams = Type.Object({ deliveryId: Uuid });
export const RequeuedSchema = Type.Object({ deliveryId: Uuid, position: Type.Integer() });

/**
 * A new notifier's filter: its operations are audit operation names (what the audit view shows,
 * `file.upload`, `session.open`, …), bar the deliveries' own, which are never notified (the
 * notifiers view): a name outside them would match nothing, silently.
 */
const NotifierFilterBody = Type.Object(
  {
    ...NotificationFilter.properties,
    operations: Type.Optional(
      Type.Array(
        // An enum, not a union of literals: a wrong name gets one error, not one per name.
        Type.String({ enum: auditOperations.filter((o) => !o.startsWith('delivery.')) }),
        {
          minItems: 1,
          maxItems: NOTIFICATION_FILTER_MAX_ENTRIES,
          description: 'Audit operations to match (file.upload, session.open, …); absent: any.',
        },
      ),
    ),
  },
  { additionalProperties: false },
);

export const NotifierBody = Type.Object(
  {
    name: Text(100, 1, { examples: ['Finance uploads to the SIEM'] }),
    filter: Type.Optional(NotifierFilterBody),
    channel: NotifierChannel,
  },
  { additionalProperties: false },
);

export const NotifierSchema = Type.Object({
  notifierId: Uuid,
  name: Type.String(),
  filter: NotificationFilter,
  channel: NotifierChannel,
  position: Type.Optional(Type.Integer()),
});

/** The answer to defining a notifier: a webhook's signing secret, shown this once. */
export const DefinedNotifierSchema = Type.Composite([
  NotifierSchema,
  Type.Object({
    signingSecret: Type.Union([Type.String(), Type.Null()], {
      description: 'Webhooks: the HMAC-SHA256 key of Sluice-Signature, returned only here',
    }),
  }),
]);

export const NotifierParams = Type.Object({ notifierId: Uuid });
export const NotifierListQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });
