/**
 * The effect of a `notification` delivery: the causing event, read back from the log, sent as
 * JSON through the notifier's channel — a signed webhook, an e-mail through the configured
 * SMTP server, or an RFC 5424 syslog message. Each carries the delivery id, so a receiver can
 * drop the copy an attempt after a crash may send again (docs/flows.md).
 */
import type { EventStore, RecordedEvent } from '../../domain/event-store.js';
import type { NotifierDefinition } from '../../domain/flows/notifier.js';
import { DeliveryError } from '../deliveries/delivery-error.js';
import type { Effect } from '../deliveries/worker.js';
import type { ReactionSecrets } from '../ports.js';

type Channel = NotifierDefinition['channel'];
type SyslogChannel = Extract<Channel, { kind: 'syslog' }>;

/** What a notification says: the event as recorded, and which notifier and delivery sent it. */
export interface NotificationBody {
  readonly deliveryId: string;
  readonly notifier: { readonly notifierId: string; readonly name: string };
  readonly event: {
    readonly position: number;
    readonly eventId: string;
    readonly type: string;
    readonly streamId: string;
    readonly recordedAt: string;
    readonly data: unknown;
    readonly actor: unknown;
  };
}

/** The senders (src/adapters/notify), one per channel kind. */
export interface NotificationChannels {
  webhook(
    url: string,
    secret: string,
    deliveryId: string,
    eventType: string,
    body: NotificationBody,
  ): Promise<string>;
  /** Undefined when no SMTP server is configured. */
  email?(to: readonly string[], subject: string, deliveryId: string, body: NotificationBody): Promise<string>;
  syslog(channel: SyslogChannel, deliveryId: string, body: NotificationBody): Promise<string>;
}

export interface NotificationEffectDeps {
  readonly store: Pick<EventStore, 'readAll'>;
  readonly notifiers: {
    definition(notifierId: string): Promise<{ notifier: NotifierDefinition; removed: boolean } | undefined>;
  };
  readonly secrets: ReactionSecrets;
  readonly channels: NotificationChannels;
}

async function eventAt(store: Pick<EventStore, 'readAll'>, position: number): Promise<RecordedEvent> {
  const [event] = await store.readAll({ after: position - 1, limit: 1 });
  if (!event || event.globalPosition !== position)
    throw new DeliveryError(`the log has no event at position ${position}`, false);
  return event;
}

export function notificationEffect(deps: NotificationEffectDeps): Effect {
  return async (delivery) => {
    const found = await deps.notifiers.definition(delivery.ownerId);
    if (!found) throw new DeliveryError(`notifier ${delivery.ownerId} is unknown`, false);
    if (found.removed) throw new DeliveryError(`notifier ${delivery.ownerId} was removed`, false);
    const { notifier } = found;
    const event = await eventAt(deps.store, delivery.causePosition);
    const body: NotificationBody = {
      deliveryId: delivery.deliveryId,
      notifier: { notifierId: notifier.notifierId, name: notifier.name },
      event: {
        position: event.globalPosition,
        eventId: event.eventId,
        type: event.type,
        streamId: event.streamId,
        recordedAt: event.recordedAt.toISOString(),
        data: event.data,
        actor: event.metadata.actor,
      },
    };
    const { channel } = notifier;
    switch (channel.kind) {
      case 'webhook': {
        const secret = (await deps.secrets.get(notifier.notifierId))?.secret;
        if (!secret)
          throw new DeliveryError(`notifier ${notifier.notifierId} has no signing secret stored`, false);
        return {
          result: await deps.channels.webhook(channel.url, secret, delivery.deliveryId, event.type, body),
        };
      }
      case 'email':
        if (!deps.channels.email)
          throw new DeliveryError('no SMTP server is configured (MFT_SMTP_URL)', true);
        return { result: await deps.channels.email(channel.to, channel.subject, delivery.deliveryId, body) };
      case 'syslog':
        return { result: await deps.channels.syslog(channel, delivery.deliveryId, body) };
    }
  };
}
