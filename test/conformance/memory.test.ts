/**
 * The EventStore conformance suite against InMemoryEventStore: the same cases as the
 * PostgreSQL and KurrentDB adapters, the late-commit case included (beforeCommit holds an
 * append open after it took its positions).
 */
import { InMemoryEventStore, InMemoryLog } from '../../src/adapters/eventstore/memory/memory-event-store.js';
import type { EventStore } from '../../src/domain/event-store.js';
import { describeEventStoreConformance } from './event-store.conformance.js';

describeEventStoreConformance('in memory', {
  supportsCommitDelay: true,
  async create(harnessOptions = {}) {
    const log = new InMemoryLog();
    const stores: EventStore[] = [];
    const open = () => {
      const store = new InMemoryEventStore(log, { beforeCommit: harnessOptions.commitDelay });
      stores.push(store);
      return store;
    };
    return {
      store: open(),
      reopen: async () => open(),
      async dispose() {
        await Promise.all(stores.map((s) => s.close()));
      },
    };
  },
});
