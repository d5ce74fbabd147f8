/**
 * Apply and checkpoint commit together: a batch whose apply throws half-way leaves neither
 * rows nor checkpoint, and its retry (the same batch, never skipped) leaves each row once.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { readCheckpoint } from '../../src/projections/checkpoints.js';
import { type ProjectionLogger, ProjectionRunner } from '../../src/projections/runner.js';
import { counterProjection, counterRows, createCounterTable } from './fixtures/counter-projection.js';
import { appendStarted, createHarness, type Harness } from './harness.js';

let h: Harness;

before(async () => {
  h = await createHarness();
  await createCounterTable(h.db);
});

after(() => h.dispose());

function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

test('an apply that throws mid-batch leaves neither rows nor checkpoint; the retry applies it once', async () => {
  const head = await appendStarted(h.store, 12);
  const failAt = 7; // inside the second batch of 5 (positions 6..10)
  let failed = false;
  const retryGate = deferred();
  const failureLogged = deferred();
  const applies: number[][] = [];
  const errors: object[] = [];
  const logger: ProjectionLogger = {
    info: () => undefined,
    warn: () => undefined,
    error: (obj) => {
      errors.push(obj);
      failureLogged.resolve();
    },
  };

  const runner = new ProjectionRunner({
    store: h.store,
    db: h.db,
    batchSize: 5,
    logger,
    retry: { initialMs: 1, maxMs: 1 },
    projections: [
      counterProjection({
        onApply: async (positions) => {
          applies.push(positions);
          // The retry of the failed batch waits until the test has looked at the database.
          if (failed && positions.includes(failAt)) await retryGate.promise;
        },
        afterRow: (position) => {
          if (position === failAt && !failed) {
            failed = true;
            throw new Error('boom at 7');
          }
        },
      }),
    ],
  });
  await runner.start();
  try {
    await failureLogged.promise;
    // The failed transaction rolled back: the first batch only, rows and checkpoint alike.
    assert.deepEqual((await counterRows(h.db)).positions, [1, 2, 3, 4, 5]);
    assert.equal(await readCheckpoint(h.db, 'counter'), 5);
    const [status] = runner.status();
    assert.equal(status?.failures, 1);
    assert.match(status?.lastError ?? '', /boom at 7/);
    assert.equal(runner.positions().counter, 5);

    retryGate.resolve();
    assert.equal(await runner.waitForPosition(head, 10_000), true);
    const rows = await counterRows(h.db);
    assert.deepEqual(
      rows.positions,
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
    assert.equal(rows.count, rows.distinct);
    assert.equal(await readCheckpoint(h.db, 'counter'), head);
    // The very same batch was retried.
    assert.deepEqual(applies, [
      [1, 2, 3, 4, 5],
      [6, 7, 8, 9, 10],
      [6, 7, 8, 9, 10],
      [11, 12],
    ]);
    assert.equal(errors.length, 1);
    assert.equal(runner.status()[0]?.failures, 0);
    assert.equal(runner.status()[0]?.lastError, undefined);
  } finally {
    await runner.stop();
  }
});
