/**
 * Several Sluice processes may run the same projection on one database: two runners on
 * separate pools (as two processes would have), with different batch boundaries, while
 * appends continue, still apply each event exactly once.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import type { EventStore, RecordedEvent, SubscribeOptions } from '../../src/domain/event-store.js';
import { readCheckpoint } from '../../src/projections/checkpoints.js';
import { ProjectionRunner } from '../../src/projections/runner.js';
import { counterProjection, counterRows, createCounterTable } from './fixtures/counter-projection.js';
import { appendStarted, appendStartedEach, createHarness, type Harness } from './harness.js';

let h: Harness;

before(async () => {
  h = await createHarness();
  await createCounterTable(h.db);
});

after(() => h.dispose());

test('two runners of one projection on separate pools apply each event once', async () => {
  await appendStarted(h.store, 30);
  const applied = { a: 0, b: 0 };
  const a = h.openStore();
  const b = h.openStore();
  const runnerA = new ProjectionRunner({
    store: a.store,
    db: a.db,
    batchSize: 7,
    projections: [
      counterProjection({
        delayMs: 1,
        onApply: (positions) => {
          applied.a += positions.length;
        },
      }),
    ],
  });
  const runnerB = new ProjectionRunner({
    store: b.store,
    db: b.db,
    batchSize: 4,
    projections: [
      counterProjection({
        delayMs: 1,
        onApply: (positions) => {
          applied.b += positions.length;
        },
      }),
    ],
  });
  await Promise.all([runnerA.start(), runnerB.start()]);
  try {
    // Appends continue while both catch up, from two writers.
    const [lastA, lastB] = await Promise.all([
      appendStarted(a.store, 60, 100),
      appendStarted(b.store, 60, 200),
    ]);
    const head = Math.max(lastA, lastB);
    assert.equal(await runnerA.waitForPosition(head, 30_000), true);
    assert.equal(await runnerB.waitForPosition(head, 30_000), true);
    const rows = await counterRows(h.db);
    assert.equal(rows.count, 150);
    assert.equal(rows.distinct, 150);
    assert.deepEqual(
      rows.positions,
      (await h.store.readAll({ limit: 10_000 })).map((e) => e.globalPosition),
    );
    assert.equal(await readCheckpoint(h.db, 'counter'), head);
    // Between them, the two runners applied each event once.
    assert.equal(applied.a + applied.b, 150);
  } finally {
    await Promise.all([runnerA.stop(), runnerB.stop()]);
  }
});

/** A runner in batches of 3 that commits every batch before the one starting at `stopAt`. */
function stoppingRunner(stopAt: number): ProjectionRunner {
  return new ProjectionRunner({
    store: h.store,
    db: h.db,
    batchSize: 3,
    retry: { initialMs: 60_000 },
    projections: [
      counterProjection({
        onApply: (positions) => {
          if (positions[0]! >= stopAt) throw new Error('this runner stops here');
        },
      }),
    ],
  });
}

/** Delegates to `inner`, but holds each subscription batch until `gate()` resolves. */
function gatedStore(inner: EventStore, gate: (batch: RecordedEvent[]) => Promise<void>): EventStore {
  return {
    appendToStream: (stream, events, options) => inner.appendToStream(stream, events, options),
    readStream: (stream, options) => inner.readStream(stream, options),
    readAll: (options) => inner.readAll(options),
    headPosition: () => inner.headPosition(),
    close: () => inner.close(),
    async *subscribeToAll(options?: SubscribeOptions) {
      for await (const batch of inner.subscribeToAll(options)) {
        await gate(batch);
        yield batch;
      }
    },
  };
}

test('a runner whose batch another runner partly applied applies only the rest', async () => {
  await sql`TRUNCATE counter_rows`.execute(h.db);
  const positions = await appendStartedEach(h.store, 12, 300);
  await h.db
    .updateTable('projection_checkpoints')
    .set({ position: positions[0]! - 1 })
    .where('name', '=', 'counter')
    .execute();

  // B reads its first batch (5 events), then waits while A commits 3 of them.
  const seen: number[][] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let heldBatch!: (batch: RecordedEvent[]) => void;
  const held = new Promise<RecordedEvent[]>((resolve) => {
    heldBatch = resolve;
  });
  let gated = 0;
  const b = new ProjectionRunner({
    store: gatedStore(h.store, async (batch) => {
      gated += 1;
      if (gated === 1) {
        heldBatch(batch);
        await released;
      }
    }),
    db: h.db,
    batchSize: 5,
    projections: [counterProjection({ onApply: (p) => void seen.push(p) })],
  });
  await b.start();
  assert.deepEqual(
    (await held).map((e) => e.globalPosition),
    positions.slice(0, 5),
  );

  const a = stoppingRunner(positions[3]!);
  try {
    await a.start();
    assert.equal(await a.waitForPosition(positions[2]!, 10_000), true);
    await a.stop();
    release();
    assert.equal(await b.waitForPosition(positions.at(-1)!, 10_000), true);
    // B applied only the two events of its batch after A's checkpoint.
    assert.equal(await readCheckpoint(h.db, 'counter'), positions.at(-1));
    assert.deepEqual(seen[0], positions.slice(3, 5));
    const rows = await counterRows(h.db);
    assert.deepEqual(rows.positions, positions);
  } finally {
    release();
    await Promise.all([a.stop(), b.stop()]);
  }
});

test('a runner whose whole batch another runner applied resubscribes from the checkpoint', async () => {
  await sql`TRUNCATE counter_rows`.execute(h.db);
  const positions = await appendStartedEach(h.store, 12, 400);
  await h.db
    .updateTable('projection_checkpoints')
    .set({ position: positions[0]! - 1 })
    .where('name', '=', 'counter')
    .execute();

  const seen: number[][] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let heldBatch!: () => void;
  const held = new Promise<void>((resolve) => {
    heldBatch = resolve;
  });
  let gated = 0;
  const b = new ProjectionRunner({
    store: gatedStore(h.store, async () => {
      gated += 1;
      if (gated === 1) {
        heldBatch();
        await released;
      }
    }),
    db: h.db,
    batchSize: 5,
    projections: [counterProjection({ onApply: (p) => void seen.push(p) })],
  });
  await b.start();
  await held;
  const a = stoppingRunner(positions[6]!);
  try {
    await a.start();
    assert.equal(await a.waitForPosition(positions[5]!, 10_000), true);
    await a.stop();
    release();
    assert.equal(await b.waitForPosition(positions.at(-1)!, 10_000), true);
    const applied = seen.flat();
    assert.deepEqual(applied, positions.slice(6));
    assert.deepEqual((await counterRows(h.db)).positions, positions);
  } finally {
    release();
    await Promise.all([a.stop(), b.stop()]);
  }
});
