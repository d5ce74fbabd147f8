/**
 * Two delivery workers, as two Sluice processes would run them, on one database: each with its
 * own pool, event store and projection runner. Every delivery's effect runs exactly once and
 * succeeds once, whichever worker claims it; a failing effect is retried by either and
 * dead-lettered once; the deliveries view agrees with the log.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { DeliveryError } from '../../src/application/deliveries/delivery-error.js';
import { deliveryScheduler } from '../../src/application/deliveries/scheduler.js';
import { DeliveryWorker, type DueDelivery } from '../../src/application/deliveries/worker.js';
import { deliveriesView } from '../../src/projections/deliveries-view.js';
import { ProjectionRunner } from '../../src/projections/runner.js';
import { createHarness, type Harness } from './harness.js';

let harness: Harness;
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const policy = { maxAttempts: 3, initialMs: 10, maxMs: 20 };
const ids = { uuid: randomUUID };

before(async () => {
  harness = await createHarness();
});
after(async () => {
  await harness?.dispose();
});

/** A worker with its own store and runner, running `effect` for flow deliveries. */
async function instance(effect: (d: DueDelivery) => Promise<string>) {
  const { db, store } = harness.openStore();
  const runner = new ProjectionRunner({ store, db, projections: [deliveriesView], logger: silent });
  await runner.start();
  const worker = new DeliveryWorker({
    store,
    db,
    clock: { now: () => new Date() },
    ids,
    effects: { flow: async (d) => ({ result: await effect(d) }) },
    policy,
    leaseMs: 60_000,
    pollMs: 20,
    concurrency: 3,
    logger: silent,
    view: {
      position: () => runner.positions().deliveries ?? 0,
      waitBeyond: (position, timeoutMs) => runner.waitForPosition(position + 1, timeoutMs, 'deliveries'),
    },
  });
  worker.start();
  return {
    runner,
    async stop() {
      await worker.stop();
      await runner.stop();
    },
  };
}

async function schedule(owner: string, n: number): Promise<void> {
  await deliveryScheduler(harness.store, ids).schedule(
    Array.from({ length: n }, (_, i) => ({
      deliveryId: randomUUID(),
      kind: 'flow' as const,
      ownerId: owner,
      cause: { eventId: randomUUID(), position: i + 1, type: 'FileUploaded' },
      file: null,
    })),
  );
}

async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await delay(50);
  }
  throw new Error('not settled in 30 s');
}

const countOf = async (type: string, owner: string): Promise<Map<string, number>> => {
  const { rows } = await harness.database.open({ max: 1 }).pool.query<{ stream_id: string; n: string }>(
    `SELECT e.stream_id, count(*) AS n FROM events e
        WHERE e.type = $1 AND e.stream_id IN
          (SELECT stream_id FROM events WHERE type = 'DeliveryScheduled' AND data->>'ownerId' = $2)
        GROUP BY 1`,
    [type, owner],
  );
  return new Map(rows.map((r) => [r.stream_id, Number(r.n)]));
};

describe('two delivery workers on one database', () => {
  it('perform every delivery once between them', async () => {
    const performed: string[] = [];
    const by = new Map<string, number>();
    const work = (who: number) => async (d: DueDelivery) => {
      performed.push(d.deliveryId);
      by.set(d.deliveryId, who);
      await delay(Math.random() * 20);
      return `done by ${who}`;
    };
    const a = await instance(work(1));
    const b = await instance(work(2));
    try {
      await schedule('shared', 60);
      await until(async () => (await countOf('DeliverySucceeded', 'shared')).size === 60);
      await delay(200); // anything left to do twice would be done by now
      assert.equal(performed.length, 60, 'no effect ran twice');
      assert.equal(new Set(performed).size, 60);
      assert.ok([...by.values()].includes(1) && [...by.values()].includes(2), 'both workers took some');
      const succeeded = await countOf('DeliverySucceeded', 'shared');
      assert.ok([...succeeded.values()].every((n) => n === 1));
      const attempts = await countOf('DeliveryAttempted', 'shared');
      assert.ok(
        [...attempts.values()].every((n) => n === 1),
        'one claim each',
      );
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('retry a failing effect from either worker, then dead-letter it once', async () => {
    let calls = 0;
    const failing = async () => {
      calls++;
      throw new DeliveryError('the peer is down', true);
    };
    const a = await instance(failing);
    const b = await instance(failing);
    try {
      await schedule('failing', 5);
      await until(async () => (await countOf('DeliveryDeadLettered', 'failing')).size === 5);
      await delay(200);
      assert.equal(calls, 5 * policy.maxAttempts, 'each attempt ran once, the policy’s number of times');
      assert.ok([...(await countOf('DeliveryDeadLettered', 'failing')).values()].every((n) => n === 1));
      assert.ok(await a.runner.waitForPosition(await harness.store.headPosition(), 5000));
      const { rows } = await harness.database
        .open({ max: 1 })
        .pool.query(`SELECT state, attempts FROM deliveries WHERE owner_id = 'failing'`);
      assert.deepEqual(
        rows,
        Array.from({ length: 5 }, () => ({ state: 'dead', attempts: policy.maxAttempts })),
        'the view agrees with the log',
      );
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
