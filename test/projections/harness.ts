/**
 * Shared set-up for the projection tests: a fresh migrated database (event store and read
 * model), a PostgresEventStore on it, and factories for real ServerStarted/ServerStopped
 * events.
 */
import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { migrate } from '../../src/adapters/database/migrate.js';
import { AppendNotifier } from '../../src/adapters/eventstore/postgres/append-notifier.js';
import { eventStoreMigrations } from '../../src/adapters/eventstore/postgres/migrations/index.js';
import { PostgresEventStore } from '../../src/adapters/eventstore/postgres/postgres-event-store.js';
import { readModelMigrations } from '../../src/adapters/readmodel/migrations/index.js';
import type { ReadModel } from '../../src/adapters/readmodel/schema.js';
import type { NewEvent } from '../../src/domain/event-store.js';
import type { EventMetadata } from '../../src/domain/events/envelope.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

export interface Harness {
  readonly database: TestDatabase;
  readonly db: Kysely<ReadModel>;
  readonly store: PostgresEventStore;
  /** A second pool and store on the same database, as another process would have. */
  openStore(): { db: Kysely<ReadModel>; store: PostgresEventStore };
  dispose(): Promise<void>;
}

export async function createHarness(): Promise<Harness> {
  const database = await createTestDatabase('proj');
  const stores: PostgresEventStore[] = [];
  const openStore = () => {
    const { db } = database.open<ReadModel>({ max: 10 });
    const store = new PostgresEventStore({ db, notifier: new AppendNotifier(database.url) });
    stores.push(store);
    return { db, store };
  };
  const first = openStore();
  await migrate(first.db as Kysely<unknown>, { name: 'eventstore', migrations: eventStoreMigrations });
  await migrate(first.db as Kysely<unknown>, { name: 'readmodel', migrations: readModelMigrations });
  return {
    database,
    db: first.db,
    store: first.store,
    openStore,
    async dispose() {
      await Promise.all(stores.map((s) => s.close()));
      await database.drop();
    },
  };
}

export function metadata(): EventMetadata {
  return { envelopeVersion: 1, correlationId: randomUUID(), actor: {} };
}

export function serverStarted(i: number, instanceId: string = randomUUID()): NewEvent {
  return {
    type: 'ServerStarted',
    data: {
      instanceId,
      version: '0.0.0-test',
      hostname: `host-${i}`,
      pid: 1000 + i,
      eventStore: 'postgres',
      startedAt: new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString(),
    },
    metadata: metadata(),
  };
}

export function serverStopped(i: number, instanceId: string): NewEvent {
  return {
    type: 'ServerStopped',
    data: {
      instanceId,
      reason: `reason-${i}`,
      stoppedAt: new Date(Date.UTC(2025, 0, 2, 0, 0, i)).toISOString(),
    },
    metadata: metadata(),
  };
}

/** Appends `count` ServerStarted events, one stream each; resolves with their positions. */
export async function appendStartedEach(
  store: PostgresEventStore,
  count: number,
  offset = 0,
): Promise<number[]> {
  const positions: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const result = await store.appendToStream(`server-${randomUUID()}`, [serverStarted(offset + i)]);
    positions.push(result.lastPosition);
  }
  return positions;
}

/** Appends `count` ServerStarted events, one stream each; resolves with the last position. */
export async function appendStarted(store: PostgresEventStore, count: number, offset = 0): Promise<number> {
  return (await appendStartedEach(store, count, offset)).at(-1) ?? 0;
}

/**
 * The position of the last committed event. Unlike `headPosition()`, it does not lag behind
 * transactions still open elsewhere in the cluster (other test files share the server).
 */
export async function lastCommittedPosition(db: Kysely<ReadModel>): Promise<number> {
  const result = await sql<{ p: string | null }>`SELECT max(global_position) AS p FROM events`.execute(db);
  return Number(result.rows[0]?.p ?? 0);
}

/** Appends `count` lifetimes (ServerStarted, then ServerStopped for every other one). */
export async function appendLifetimes(store: PostgresEventStore, count: number, offset = 0): Promise<number> {
  let last = 0;
  for (let i = offset; i < offset + count; i += 1) {
    const instanceId = randomUUID();
    const stream = `server-${instanceId}`;
    last = (await store.appendToStream(stream, [serverStarted(i, instanceId)])).lastPosition;
    if (i % 2 === 0) last = (await store.appendToStream(stream, [serverStopped(i, instanceId)])).lastPosition;
  }
  return last;
}

/** A table's full contents as ordered JSON, for comparing live and rebuilt rows. */
export async function tableJson(db: Kysely<ReadModel>, table: string, orderBy: string): Promise<string> {
  const result = await sql<{ rows: unknown }>`
    SELECT coalesce(json_agg(t ORDER BY ${sql.ref(`t.${orderBy}`)}), '[]'::json) AS rows
    FROM ${sql.table(table)} t`.execute(db);
  return JSON.stringify(result.rows[0]?.rows);
}
