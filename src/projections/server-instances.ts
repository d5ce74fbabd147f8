/**
 * The `server_instances` view: one row per Sluice process lifetime, from ServerStarted and
 * ServerStopped. A process killed without recording ServerStopped keeps `stopped_at` null.
 */
import type { Kysely } from 'kysely';
import type { ReadModel } from '../adapters/readmodel/schema.js';
import type { RecordedDomainEvent } from '../domain/events/catalogue.js';
import type { Projection } from './projection.js';

async function apply(trx: Kysely<ReadModel>, events: readonly RecordedDomainEvent[]): Promise<void> {
  for (const event of events) {
    switch (event.type) {
      case 'ServerStarted':
        await trx
          .insertInto('server_instances')
          .values({
            instance_id: event.data.instanceId,
            hostname: event.data.hostname,
            pid: event.data.pid,
            version: event.data.version,
            event_store: event.data.eventStore,
            started_at: event.data.startedAt,
            started_position: event.globalPosition,
          })
          .execute();
        break;
      case 'ServerStopped':
        await trx
          .updateTable('server_instances')
          .set({ stopped_at: event.data.stoppedAt, stop_reason: event.data.reason })
          .where('instance_id', '=', event.data.instanceId)
          .execute();
        break;
    }
  }
}

export const serverInstancesProjection: Projection = {
  name: 'server_instances',
  handles: ['ServerStarted', 'ServerStopped'],
  tables: ['server_instances'],
  apply,
};
