/** The `applications` view: integrators' registered applications, for the registry list. */
import type { Kysely } from 'kysely';
import type { ReadModel } from '../adapters/readmodel/schema.js';
import type { RecordedDomainEvent } from '../domain/events/catalogue.js';
import type { Projection } from './projection.js';

async function apply(trx: Kysely<ReadModel>, events: readonly RecordedDomainEvent[]): Promise<void> {
  for (const event of events) {
    if (event.type === 'ApplicationRegistered') {
      const d = event.data;
      await trx
        .insertInto('applications')
        .values({
          application_id: d.applicationId,
          name: d.name,
          description: d.description,
          enabled: true,
          registered_by: d.registeredBy,
          registered_at: event.recordedAt,
        })
        .execute();
    } else if (event.type === 'ApplicationEnabledChanged') {
      await trx
        .updateTable('applications')
        .set({ enabled: event.data.enabled })
        .where('application_id', '=', event.data.applicationId)
        .execute();
    }
  }
}

export const applicationsProjection: Projection = {
  name: 'applications',
  handles: ['ApplicationRegistered', 'ApplicationEnabledChanged'],
  tables: ['applications'],
  apply,
};

export async function listApplications(db: Kysely<ReadModel>, afterId: number, limit: number) {
  const rows = await db
    .selectFrom('applications')
    .selectAll()
    .where('application_id', '>', afterId)
    .orderBy('application_id')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    applicationId: r.application_id,
    name: r.name,
    description: r.description,
    enabled: r.enabled,
    builtIn: false,
  }));
}
