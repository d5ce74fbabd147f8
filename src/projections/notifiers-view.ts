/**
 * The `notifiers` view, and the reaction that schedules notifications (docs/flows.md).
 *
 * It keeps each notifier's filter and channel, and for every auditable event (described as its
 * audit row describes it: operation, outcome, user, path) schedules one `notification` delivery
 * per notifier whose filter passes, with an id derived from the notifier and the event, as the
 * flows view does (flows-view.ts): a replayed batch schedules nothing twice. The deliveries'
 * own events are never notified (a failing notification would notify of itself).
 */
import type { Kysely } from 'kysely';
import type { ReadModel } from '../adapters/readmodel/schema.js';
import { deliveryIdOf } from '../domain/deliveries/delivery-id.js';
import { type DomainEventType, eventTypes } from '../domain/events/catalogue.js';
import {
  type CompiledFilter,
  compileFilter,
  type NotificationFilter,
} from '../domain/reactions/notification-filter.js';
import { auditRow } from './audit/rows.js';
import type { DeliveryScheduler, ScheduledDelivery } from './flows-view.js';
import type { DomainProjection } from './projection.js';

const notNotified = (type: string) => type.startsWith('Delivery');

/** The outcome a filter sees: a refusal, denial or abort is a failure; a start is not notified. */
const OUTCOMES = { success: 'success', failure: 'failure', denied: 'failure', aborted: 'failure' } as const;

export function notifiersView(options: { scheduler: DeliveryScheduler }): DomainProjection {
  return {
    name: 'notifiers',
    handles: eventTypes.filter((type) => !notNotified(type)) as DomainEventType[],
    tables: ['notifiers'],
    async apply(trx: Kysely<ReadModel>, events) {
      const active = new Map<string, CompiledFilter>();
      for (const row of await trx
        .selectFrom('notifiers')
        .select(['notifier_id', 'filter'])
        .where('removed_at', 'is', null)
        .execute())
        active.set(row.notifier_id, compileFilter(row.filter as NotificationFilter));
      const names = new Map<number, string>();
      const nameOf = async (userId: number | null, named: string | null): Promise<string> => {
        if (named !== null) return named;
        if (userId === null) return '';
        if (!names.has(userId)) {
          const user = await trx
            .selectFrom('users')
            .select('user_name')
            .where('user_id', '=', userId)
            .executeTakeFirst();
          names.set(userId, user?.user_name ?? '');
        }
        return names.get(userId)!;
      };
      const scheduled: ScheduledDelivery[] = [];
      for (const event of events) {
        if (event.type === 'NotifierDefined') {
          await trx
            .insertInto('notifiers')
            .values({
              notifier_id: event.data.notifierId,
              name: event.data.name,
              filter: JSON.stringify(event.data.filter),
              channel: JSON.stringify(event.data.channel),
              defined_at: event.recordedAt,
              defined_position: event.globalPosition,
            })
            .onConflict((oc) => oc.column('notifier_id').doNothing())
            .execute();
          active.set(event.data.notifierId, compileFilter(event.data.filter));
          continue;
        }
        if (event.type === 'NotifierRemoved') {
          await trx
            .updateTable('notifiers')
            .set({ removed_at: event.recordedAt })
            .where('notifier_id', '=', event.data.notifierId)
            .execute();
          active.delete(event.data.notifierId);
          continue;
        }
        if (active.size === 0) continue;
        const row = auditRow(event);
        if (!row || row.outcome === 'started') continue;
        const subject = {
          operation: row.operation,
          outcome: OUTCOMES[row.outcome],
          userName: await nameOf(row.user_id, row.user_name),
          ...(row.path === null ? {} : { path: row.path }),
        };
        for (const [notifierId, passes] of active) {
          if (!passes(subject)) continue;
          scheduled.push({
            deliveryId: deliveryIdOf('notification', notifierId, event.eventId),
            kind: 'notification',
            ownerId: notifierId,
            cause: { eventId: event.eventId, position: event.globalPosition, type: event.type },
            file: null,
          });
        }
      }
      if (scheduled.length > 0) await options.scheduler.schedule(scheduled);
    },
  };
}
