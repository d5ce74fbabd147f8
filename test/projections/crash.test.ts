/**
 * kill -9 of a runner process, within a batch's transaction and right after a commit, loses
 * nothing and duplicates nothing: the next runner (another process, then this one) continues
 * from the committed checkpoint.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readCheckpoint } from '../../src/projections/checkpoints.js';
import { ProjectionRunner } from '../../src/projections/runner.js';
import { counterProjection, counterRows, createCounterTable } from './fixtures/counter-projection.js';
import { appendStarted, createHarness, type Harness } from './harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = path.join(here, 'fixtures', 'slow-runner.ts');
const children = new Set<ChildProcess>();

let h: Harness;

before(async () => {
  h = await createHarness();
  await createCounterTable(h.db);
});

after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await h.dispose();
});

/**
 * Runs the slow runner in a child process (10 ms per row, batches of 5, hanging inside its
 * transaction after writing row `hangAt` if given) and SIGKILLs it on the first stdout line
 * for which `killWhen` returns true; resolves with the lines seen.
 */
async function runAndKill(killWhen: (line: string) => boolean, hangAt?: number): Promise<string[]> {
  const args = ['--import', 'tsx', fixture, h.database.url, '10', '5', ...(hangAt ? [String(hangAt)] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  const exited = once(child, 'exit');
  const lines: string[] = [];
  let killed = false;
  for await (const line of createInterface({ input: child.stdout! })) {
    lines.push(line);
    if (!killed && killWhen(line)) {
      killed = true;
      child.kill('SIGKILL');
    }
  }
  const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
  children.delete(child);
  assert.equal(signal, 'SIGKILL', `the runner exited by itself (code ${code}): ${lines.join(' | ')}`);
  return lines;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

test('SIGKILL within and between batches loses nothing and duplicates nothing', async () => {
  const head = await appendStarted(h.store, 40);

  // First process: killed inside its third batch's transaction, rows 11..13 written, uncommitted.
  const first = await runAndKill((line) => line === 'row 13', 13);
  assert.deepEqual(
    first.filter((l) => l.startsWith('batch ')),
    ['batch 5', 'batch 10'],
  );
  assert.equal(await readCheckpoint(h.db, 'counter'), 10);
  assert.deepEqual((await counterRows(h.db)).positions, range(10));

  // Second process: continues from 10 (once the server has rolled back the dead one's
  // transaction and released its lock) and is killed right after committing up to 25.
  const second = await runAndKill((line) => line === 'batch 25');
  assert.equal(
    second.find((l) => l.startsWith('row ')),
    'row 11',
  );
  const checkpoint = await readCheckpoint(h.db, 'counter');
  // Killed after that commit, possibly while writing (or even after committing) a later batch.
  assert.ok(checkpoint >= 25, `checkpoint ${checkpoint}`);
  assert.deepEqual((await counterRows(h.db)).positions, range(checkpoint));

  // A third runner, in this process, finishes the job.
  const runner = new ProjectionRunner({
    store: h.store,
    db: h.db,
    batchSize: 5,
    projections: [counterProjection()],
  });
  await runner.start();
  try {
    assert.equal(await runner.waitForPosition(head, 30_000), true);
  } finally {
    await runner.stop();
  }
  const rows = await counterRows(h.db);
  assert.equal(rows.count, 40);
  assert.equal(rows.distinct, 40);
  assert.deepEqual(rows.positions, range(40));
  assert.equal(await readCheckpoint(h.db, 'counter'), head);
});
