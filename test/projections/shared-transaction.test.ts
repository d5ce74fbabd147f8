/**
 * Projections woken by the same append write in one read-model transaction; a projection
 * whose write fails does not hold the others back (they commit without it, it retries alone).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Kysely, sql } from 'kysely';
import type { ReadModel } from '../../src/adapters/readmodel/schema.js';
import { readCheckpoint } from '../../src/projections/checkpoints.js';
import type { DomainProjection } from '../../src/projections/projection.js';
import { type ProjectionLogger, ProjectionRunner } from '../../src/projections/runner.js';
import { counterProjection, counterRows, createCounterTable } from './fixtures/counter-projection.js';
import { appendStarted, appendStartedEach, createHarness, type Harness } from './harness.js';

let h: Harness;

before(async () => {
  h = await createHarness();
  await createCounterTable(h.db);
});

after(() => h.dispose());

async function transactionId(trx: Kysely<ReadModel>): Promise<string> {
  const result = await sql<{ id: string }>`SELECT pg_current_xact_id()::text AS id`.execute(trx);
  return result.rows[0]?.id ?? '';
}

test('projections at the head write one batch in one transaction; a failing one retries alone', async () => {
  // Transaction ids seen by each projection's apply, by position.
  const seen = { counter: new Map<number, string>(), fragile: new Map<number, string>() };
  let failAt = 0;
  let failures = 0;
  const failed = new Set<string>();
  const logger: ProjectionLogger = {
    info: () => undefined,
    warn: () => undefined,
    error: (obj) => failed.add(String((obj as { projection?: string }).projection)),
  };
  const fragile: DomainProjection = {
    name: 'fragile',
    handles: ['ServerStarted'],
    tables: [],
    async apply(trx, events) {
      const id = await transactionId(trx);
      for (const event of events) {
        if (event.globalPosition === failAt) {
          failures += 1;
          throw new Error(`fragile fails at ${failAt}`);
        }
        seen.fragile.set(event.globalPosition, id);
      }
    },
  };
  const runner = new ProjectionRunner({
    store: h.store,
    db: h.db,
    logger,
    retry: { initialMs: 20, maxMs: 20 },
    projections: [
      counterProjection({
        onApply: async (positions, trx) => {
          const id = await transactionId(trx);
          for (const p of positions) seen.counter.set(p, id);
        },
      }),
      fragile,
    ],
  });
  const before = await appendStarted(h.store, 2);
  await runner.start();
  try {
    assert.equal(await runner.waitForPosition(before, 10_000), true);

    // Both idle at the head: one append wakes both, one read, one transaction.
    const [shared] = await appendStartedEach(h.store, 1, 10);
    assert.equal(await runner.waitForPosition(shared!, 10_000), true);
    assert.ok(seen.counter.get(shared!), 'the counter applied the event');
    assert.equal(seen.fragile.get(shared!), seen.counter.get(shared!), 'in the same transaction');
    assert.equal(await readCheckpoint(h.db, 'counter'), shared);
    assert.equal(await readCheckpoint(h.db, 'fragile'), shared);

    // The fragile projection fails on the next event: the counter commits it anyway.
    const [failing] = await appendStartedEach(h.store, 1, 20);
    failAt = failing!;
    assert.equal(await runner.waitForPosition(failing!, 10_000, 'counter'), true);
    assert.equal(await readCheckpoint(h.db, 'counter'), failing);
    while (failures < 2) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(runner.positions().fragile! < failing!, 'the failing projection has not passed it');
    assert.equal(await readCheckpoint(h.db, 'fragile'), shared);

    // It recovers and catches up; every row once.
    failAt = 0;
    assert.equal(await runner.waitForPosition(failing!, 10_000, 'fragile'), true);
    const rows = await counterRows(h.db);
    assert.equal(rows.count, rows.distinct);
    assert.ok(rows.positions.includes(shared!) && rows.positions.includes(failing!));
    assert.equal(runner.status().find((s) => s.name === 'fragile')?.failures, 0);
    assert.deepEqual([...failed], ['fragile'], 'the counter never failed');
  } finally {
    await runner.stop();
  }
});
