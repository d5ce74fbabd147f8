/**
 * The conformance factory for PostgresEventStore: each harness is a fresh database on the test
 * server (test/support/database.ts), migrated, with its own pool and AppendNotifier; `reopen`
 * opens a new pool and notifier on the same database, as a restarted process would.
 */
import { migrate } from '../../src/adapters/database/migrate.js';
import { AppendNotifier } from '../../src/adapters/eventstore/postgres/append-notifier.js';
import { eventStoreMigrations } from '../../src/adapters/eventstore/postgres/migrations/index.js';
import { PostgresEventStore } from '../../src/adapters/eventstore/postgres/postgres-event-store.js';
import type { EventStore } from '../../src/domain/event-store.js';
import { createTestDatabase } from '../support/database.js';
import type { EventStoreFactory } from './event-store.conformance.js';

/** Pool size per store: 8 concurrent writers each hold a connection inside their transaction. */
const POOL_MAX = 16;

export function postgresEventStoreFactory(options: { unsafeNaiveReads?: boolean } = {}): EventStoreFactory {
  return {
    supportsCommitDelay: true,
    async create(harnessOptions = {}) {
      const database = await createTestDatabase('conf');
      const first = database.open({ max: POOL_MAX });
      await migrate(first.db, { name: 'eventstore', migrations: eventStoreMigrations });
      const stores: EventStore[] = [];
      const open = (db: typeof first.db): EventStore => {
        const store = new PostgresEventStore({
          db,
          notifier: new AppendNotifier(database.url),
          beforeCommit: harnessOptions.commitDelay,
          unsafeNaiveReads: options.unsafeNaiveReads,
        });
        stores.push(store);
        return store;
      };
      return {
        store: open(first.db),
        reopen: async () => open(database.open({ max: POOL_MAX }).db),
        async dispose() {
          await Promise.all(stores.map((s) => s.close()));
          await database.drop();
        },
      };
    },
  };
}
