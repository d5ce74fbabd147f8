/**
 * The EventStore conformance suite against KurrentDbEventStore on a real KurrentDB server, when
 * EVENTSTORE_URL names one:
 *
 *   EVENTSTORE_URL='esdb://localhost:2113?tls=false' npm run test:kurrentdb
 *
 * Without EVENTSTORE_URL (as in `npm test` on a machine without KurrentDB) the file skips itself.
 *
 * Each harness is a fresh namespace on the shared server: its streams are `conformance-<uuid>-…`
 * and its store reads only those, starting at the `$all` position where the namespace began (so
 * a server full of earlier runs is not scanned). KurrentDB cannot hold an append open, so the
 * factory says `supportsCommitDelay: false`; nothing is deleted afterwards (KurrentDB's log is
 * append-only; run the suite against a throw-away server).
 */
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { BACKWARDS, END, type Position } from '@eventstore/db-client';
import { createClient } from '../../src/adapters/eventstore/kurrentdb/connection.js';
import { KurrentDbEventStore } from '../../src/adapters/eventstore/kurrentdb/kurrentdb-event-store.js';
import type { EventStore } from '../../src/domain/event-store.js';
import { describeEventStoreConformance, type EventStoreFactory } from './event-store.conformance.js';

export function kurrentDbEventStoreFactory(url: string): EventStoreFactory {
  return {
    supportsCommitDelay: false,
    async create() {
      const streamPrefix = `conformance-${randomUUID()}-`;
      const first = createClient(url);
      // One clear line when the server does not answer, before anything else is asked of it.
      await new KurrentDbEventStore({ client: first, url }).checkReachable();
      let scanFrom: Position | undefined;
      for await (const resolved of first.readAll({ fromPosition: END, direction: BACKWARDS, maxCount: 1 })) {
        scanFrom = resolved.event?.position;
      }
      const stores: EventStore[] = [];
      const open = (client: ReturnType<typeof createClient>): KurrentDbEventStore => {
        const store = new KurrentDbEventStore({
          client,
          url,
          streamPrefix,
          scanFrom,
          retry: { initialMs: 50, maxMs: 1000 },
        });
        stores.push(store);
        return store;
      };
      return {
        store: open(first),
        reopen: async () => open(createClient(url)),
        async dispose() {
          await Promise.all(stores.map((s) => s.close().catch(() => undefined)));
        },
      };
    },
  };
}

const url = process.env.EVENTSTORE_URL;
if (url === undefined || url.trim() === '') {
  test(
    'EventStore conformance: KurrentDB',
    {
      skip: 'EVENTSTORE_URL is not set: `EVENTSTORE_URL=esdb://host:2113?tls=false npm run test:kurrentdb` runs this suite against a KurrentDB server',
    },
    () => undefined,
  );
} else {
  describeEventStoreConformance('KurrentDB', kurrentDbEventStoreFactory(url.trim()));
}
