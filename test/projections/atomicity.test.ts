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
    // The failed transaction rolled back: only the batches before it, rows and checkpoint alike.
    const committed = applies
      .slice(
        0,
        applies.findIndex((batch) => batch.includes(failAt)),
      )
      .flat();
    assert.ok(committed.length > 0 && !committed.includes(failAt));
    assert.deepEqual((await counterRows(h.db)).positions, committed);
    assert.equal(await readCheckpoint(h.db, 'counter'), committed[committed.length - 1]);
    const [status] = runner.status();
    assert.equal(status?.failures, 1);
    assert.match(status?.lastError ?? '', /boom at 7/);
    assert.equal(runner.positions().counter, committed[committed.length - 1]);

    retryGate.resolve();
    assert.equal(await runner.waitForPosition(head, 10_000), true);
    const rows = await counterRows(h.db);
    assert.deepEqual(
      rows.positions,
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
    assert.equal(rows.count, rows.distinct);
    assert.equal(await readCheckpoint(h.db, 'counter'), head);
    // The very same batch was retried. (Where later batches end depends on what readers could
    // see at the time: other databases' transactions in the cluster can hold the horizon back.)
    const failedAt = applies.findIndex((batch) => batch.includes(failAt));
    assert.ok(failedAt > 0, 'the failing batch came after the first');
    assert.deepEqual(applies[failedAt + 1], applies[failedAt], 'the failed batch was retried as it was');
    assert.deepEqual(
      applies.filter((_, i) => i !== failedAt).flat(),
      Array.from({ length: 12 }, (_, i) => i + 1),
      'apart from the failed attempt, every event was applied once, in order',
    );
    assert.equal(errors.length, 1);
    assert.equal(runner.status()[0]?.failures, 0);
    assert.equal(runner.status()[0]?.lastError, undefined);
  } finally {
    await runner.stop();
  }
});
