/**
 * PostgreSQL-specific behaviour of PostgresEventStore that the adapter-neutral conformance
 * suite (test/conformance/) does not cover: the immutable table, cross-instance wake-ups over
 * LISTEN/NOTIFY, and argument checks.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { migrate } from '../../src/adapters/database/migrate.js';
import { AppendNotifier } from '../../src/adapters/eventstore/postgres/append-notifier.js';
import { eventStoreMigrations } from '../../src/adapters/eventstore/postgres/migrations/index.js';
import { PostgresEventStore } from '../../src/adapters/eventstore/postgres/postgres-event-store.js';
import type { ExpectedRevision } from '../../src/domain/event-store.js';
import { newEvent, Subscriber } from '../conformance/event-store.conformance.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let database: TestDatabase;
const stores: PostgresEventStore[] = [];

function openStore(): { store: PostgresEventStore; notifier: AppendNotifier } {
  const notifier = new AppendNotifier(database.url);
  const store = new PostgresEventStore({ db: database.open({ max: 4 }).db, notifier });
  stores.push(store);
  return { store, notifier };
}

before(async () => {
  database = await createTestDatabase('pges');
  const { db } = database.open({ max: 2 });
  await migrate(db, { name: 'eventstore', migrations: eventStoreMigrations });
});

after(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await database.drop();
});

describe('PostgresEventStore (PostgreSQL specifics)', () => {
  it('the events table refuses UPDATE, DELETE and TRUNCATE', async () => {
    const { store } = openStore();
    const { pool } = database.open({ max: 1 });
    await store.appendToStream('immutable', [newEvent('Kept', { v: 1 })]);
    const before = await store.readStream('immutable');

    for (const statement of [
      `UPDATE events SET type = 'Changed' WHERE stream_id = 'immutable'`,
      `UPDATE events SET data = '{"v": 2}'::jsonb`,
      `DELETE FROM events WHERE stream_id = 'immutable'`,
      'DELETE FROM events',
      'TRUNCATE events',
      'TRUNCATE events CASCADE',
    ]) {
      await assert.rejects(pool.query(statement), (error: unknown) => {
        assert.equal((error as { code?: string }).code, '42501', statement);
        assert.match(String((error as Error).message), /events are immutable/);
        return true;
      });
    }
    assert.deepEqual(await store.readStream('immutable'), before);
  });

  it('an append through one instance wakes a subscriber of another through NOTIFY', {
    timeout: 30_000,
  }, async () => {
    // Two store instances as two processes would have them: own pools, own notifier connections.
    const writer = openStore();
    const reader = openStore();
    // This file's tests share one database: only what is appended from here on.
    const subscriber = new Subscriber(reader.store, { after: await reader.store.headPosition() });
    try {
      const pending = subscriber.pull(); // starts the reader's LISTEN connection
      await reader.notifier.start();
      const version = reader.notifier.version;

      // The writer instance never subscribes: its appends must still NOTIFY.
      const event = newEvent('Remote', { from: 'writer' });
      await writer.store.appendToStream('remote', [event]);

      // The reader's notifier version moves only on a wake-up: here, only the NOTIFY.
      while (reader.notifier.version === version) await reader.notifier.waitForAppend(version, 1000);
      await pending;
      await subscriber.untilEvent(event.eventId ?? '');
      assert.deepEqual(
        subscriber.events.map((e) => e.eventId),
        [event.eventId],
      );

      // And again, now that the writer's connection is up.
      const again = reader.notifier.version;
      const second = newEvent('Remote', { from: 'writer', n: 2 });
      await writer.store.appendToStream('remote', [second]);
      while (reader.notifier.version === again) await reader.notifier.waitForAppend(again, 1000);
      await subscriber.untilEvent(second.eventId ?? '');
    } finally {
      await subscriber.stop();
    }
  });

  it('a burst of appends within the notifier interval sends two NOTIFYs: the first at once, the rest together at its end', {
    timeout: 30_000,
  }, async () => {
    // A long interval, so that the burst falls within it even on a slow machine.
    const notifier = new AppendNotifier(database.url, undefined, 2000);
    const writer = new PostgresEventStore({ db: database.open({ max: 4 }).db, notifier });
    stores.push(writer);
    await notifier.start();
    const reader = openStore();
    await reader.notifier.start();
    const subscriber = new Subscriber(reader.store, { after: await reader.store.headPosition() });
    try {
      const before = reader.notifier.version;
      const burst = Array.from({ length: 10 }, (_, i) => newEvent('Burst', { i }));
      for (const [i, event] of burst.entries()) await writer.appendToStream(`notify-burst-${i}`, [event]);
      await subscriber.untilEvent(burst.at(-1)?.eventId ?? '');
      // The trailing NOTIFY comes at the end of the interval. Only NOTIFYs move the reader's
      // version (it appends nothing itself); one NOTIFY per append would have moved it by ten.
      while (reader.notifier.version - before < 2) {
        await reader.notifier.waitForAppend(reader.notifier.version, 1000);
      }
      assert.equal(reader.notifier.version - before, 2);
    } finally {
      await subscriber.stop();
    }
  });

  it('subscriptions of one process at the same position share one read per wake-up; each gets every event once, in order', {
    timeout: 60_000,
  }, async () => {
    const { store, notifier } = openStore();
    await notifier.start();
    let reads = 0;
    const readAll = store.readAll.bind(store);
    store.readAll = (options) => {
      reads += 1;
      return readAll(options);
    };
    const head = await store.headPosition();
    // Batch sizes differ as the projections' and the connection registry's do.
    const subscribers = [500, 2000, 2000, 2000, 2000, 2000].map(
      (batchSize) => new Subscriber(store, { after: head, batchSize }),
    );
    try {
      const appended: string[] = [];
      for (let i = 0; i < 10; i++) {
        const event = newEvent('Shared', { i });
        appended.push(event.eventId ?? '');
        await store.appendToStream(`shared-${i}`, [event]);
        await Promise.all(subscribers.map((s) => s.untilEvent(event.eventId ?? '')));
      }
      for (const s of subscribers) {
        assert.deepEqual(
          s.events.map((e) => e.eventId),
          appended,
        );
      }
      // Unshared, every subscriber reads at least once per append (60 reads); shared, about one
      // read per append, plus the first read and whatever polls fell in between.
      assert.ok(reads < 30, `${reads} reads for 6 subscriptions × 10 appends`);
    } finally {
      await Promise.all(subscribers.map((s) => s.stop()));
    }
  });

  it('at the head, appends that follow a read within readIntervalMs are read together, in one batch', {
    timeout: 60_000,
  }, async () => {
    const notifier = new AppendNotifier(database.url);
    // A long interval, so that the appends below fall within it even on a slow machine.
    const store = new PostgresEventStore({
      db: database.open({ max: 4 }).db,
      notifier,
      readIntervalMs: 3000,
    });
    stores.push(store);
    await notifier.start();
    const subscriber = new Subscriber(store, { after: await store.headPosition() });
    try {
      const first = newEvent('Burst', { i: 0 });
      await store.appendToStream('burst-0', [first]);
      // The first append after a quiet spell is read at once, alone.
      await subscriber.untilEvent(first.eventId ?? '');
      assert.deepEqual(subscriber.batchSizes, [1]);
      const burst = [1, 2, 3, 4].map((i) => newEvent('Burst', { i }));
      // Waiting for the next append when the burst begins, as a projection at the head is.
      const waiting = subscriber.pull();
      for (const [i, event] of burst.entries()) await store.appendToStream(`burst-${i + 1}`, [event]);
      await waiting;
      await subscriber.untilEvent(burst.at(-1)?.eventId ?? '');
      assert.deepEqual(subscriber.batchSizes, [1, 4]);
      assert.deepEqual(
        subscriber.events.map((e) => e.eventId),
        [first, ...burst].map((e) => e.eventId),
      );
    } finally {
      await subscriber.stop();
    }
  });

  it('rejects an empty append, a bad expected revision and a bad stream id with RangeError', async () => {
    const { store } = openStore();
    await assert.rejects(store.appendToStream('range', []), RangeError);
    const bad: unknown[] = [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, 'bogus', '3'];
    for (const expectedRevision of bad) {
      await assert.rejects(
        store.appendToStream('range', [newEvent('X', 1)], {
          expectedRevision: expectedRevision as ExpectedRevision,
        }),
        RangeError,
        `expectedRevision ${String(expectedRevision)}`,
      );
    }
    await assert.rejects(store.appendToStream('', [newEvent('X', 1)]), RangeError);
    await assert.rejects(store.appendToStream('x'.repeat(513), [newEvent('X', 1)]), RangeError);
    await assert.rejects(store.readAll({ limit: 0 }), RangeError);
    assert.deepEqual(await store.readStream('range'), []);
    const written = await sql<{
      n: string;
    }>`SELECT count(*) AS n FROM events WHERE stream_id = 'range'`.execute(database.open({ max: 1 }).db);
    assert.equal(Number(written.rows[0]?.n), 0);
  });

  it('an append failing inside the database (duplicate event id) writes none of its events', async () => {
    const { store } = openStore();
    const existing = newEvent('First', 1);
    const first = await store.appendToStream('dup', [existing]);
    const fresh = newEvent('Second', 2);
    await assert.rejects(
      store.appendToStream('dup', [fresh, { ...newEvent('Dup', 3), eventId: existing.eventId }]),
      (error: unknown) => (error as { code?: string }).code === '23505',
    );
    assert.deepEqual(
      (await store.readStream('dup')).map((e) => e.eventId),
      [existing.eventId],
    );
    // The stream's revision did not move, and the appended positions of one append are consecutive.
    const next = await store.appendToStream('dup', [fresh, newEvent('Third', 3)], {
      expectedRevision: first.nextExpectedRevision,
    });
    assert.equal(next.nextExpectedRevision, 2);
    assert.equal(next.lastPosition - next.firstPosition, 1);
  });

  it('close() ends live subscriptions', async () => {
    const { store } = openStore();
    await store.appendToStream('closing', [newEvent('Before', {})]);
    const iterator = store.subscribeToAll()[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.equal(first.done, false);
    const pending = iterator.next();
    await store.close();
    assert.deepEqual(await pending, { done: true, value: undefined });
  });
});
