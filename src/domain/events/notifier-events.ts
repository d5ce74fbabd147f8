/**
 * Notifiers (docs/flows.md): an administrator asks to be told of events that pass a filter,
 * by webhook, e-mail or syslog. One stream per notifier, `notifier-<notifierId>`; each message
 * sent is a delivery (delivery-events.ts). A webhook's signing secret never enters an event.
 */
import { Type } from '@sinclair/typebox';
import { NotificationFilterSchema } from '../reactions/notification-filter.js';
import { HostName } from './flow-events.js';
import { eventSchema, Text, Uuid } from './schema-helpers.js';

/** Absent fields: any; every present field must match (domain/reactions/notification-filter.ts). */
export const NotificationFilter = NotificationFilterSchema;

export const NotifierChannel = Type.Union([
  Type.Object(
    {
      kind: Type.Literal('webhook'),
      url: Type.String({ minLength: 8, maxLength: 2048, pattern: '^https?://[^\\s]+$' }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal('email'),
      to: Type.Array(Type.String({ minLength: 3, maxLength: 254, pattern: '^[^@\\s]+@[^@\\s]+$' }), {
        minItems: 1,
        maxItems: 20,
      }),
      subject: Text(200, 1),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal('syslog'),
      host: HostName,
      port: Type.Integer({ minimum: 1, maximum: 65535 }),
      tls: Type.Boolean(),
    },
    { additionalProperties: false },
  ),
]);

export const NotifierDefined = eventSchema('NotifierDefined', {
  notifierId: Uuid,
  name: Text(100, 1),
  filter: NotificationFilter,
  channel: NotifierChannel,
});

export const NotifierRemoved = eventSchema('NotifierRemoved', { notifierId: Uuid });

export const notifierStream = (notifierId: string) => `notifier-${notifierId}`;
