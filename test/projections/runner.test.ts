import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { readCheckpoint } from '../../src/projections/checkpoints.js';
import { ProjectionRunner } from '../../src/projections/runner.js';
import { serverInstancesProjection } from '../../src/projections/server-instances.js';
import { createHarness, type Harness, metadata, serverStarted, serverStopped } from './harness.js';

describe('ProjectionRunner with the server_instances projection', () => {
  let h: Harness;
  let runner: ProjectionRunner;
  const batches: Array<{ name: string; events: number; position: number }> = [];

  before(async () => {
    h = await createHarness();
    runner = new ProjectionRunner({
      store: h.store,
      db: h.db,
      projections: [serverInstancesProjection],
      batchSize: 3,
      onBatch: ({ name, events, position }) => batches.push({ name, events, position }),
    });
    await runner.start();
  });

  after(async () => {
    await runner.stop();
    await h.dispose();
  });

  test('waitForPosition resolves once the row of an append is visible', async () => {
    const instanceId = randomUUID();
    const { lastPosition } = await h.store.appendToStream(`server-${instanceId}`, [
      serverStarted(1, instanceId),
    ]);
    assert.equal(await runner.waitForPosition(lastPosition, 10_000), true);
    const row = await h.db
      .selectFrom('server_instances')
      .selectAll()
      .where('instance_id', '=', instanceId)
      .executeTakeFirstOrThrow();
    assert.equal(row.hostname, 'host-1');
    assert.equal(row.pid, 1001);
    assert.equal(row.event_store, 'postgres');
    assert.equal(Number(row.started_position), lastPosition);
    assert.equal(row.started_at.toISOString(), '2025-01-01T00:00:01.000Z');
    assert.equal(row.stopped_at, null);

    const stopped = await h.store.appendToStream(`server-${instanceId}`, [serverStopped(1, instanceId)]);
    assert.equal(await runner.waitForPosition(stopped.lastPosition, 10_000, 'server_instances'), true);
    const after = await h.db
      .selectFrom('server_instances')
      .select(['stopped_at', 'stop_reason'])
      .where('instance_id', '=', instanceId)
      .executeTakeFirstOrThrow();
    assert.equal(after.stop_reason, 'reason-1');
    assert.equal(after.stopped_at?.toISOString(), '2025-01-02T00:00:01.000Z');
  });

  test('waitForPosition returns false on timeout for a position never reached', async () => {
    const head = await h.store.headPosition();
    assert.equal(await runner.waitForPosition(head + 1_000_000, 50), false);
    assert.equal(await runner.waitForPosition(head, 10_000), true);
    assert.throws(() => runner.waitForPosition(1, 10, 'no-such-projection'), /unknown projection/);
  });

  test('the position moves over events the projection does not handle, and the checkpoint row follows', async () => {
    const appended = await h.store.appendToStream(`other-${randomUUID()}`, [
      { type: 'SomethingElse', data: { x: 1 }, metadata: metadata() },
      { type: 'SomethingElse', data: { x: 2 }, metadata: metadata() },
    ]);
    assert.equal(await runner.waitForPosition(appended.lastPosition, 10_000), true);
    assert.equal(runner.positions().server_instances, appended.lastPosition);
    assert.ok(batches.some((b) => b.position === appended.lastPosition && b.events === 2));
    // The row is written within checkpointIntervalMs (default 1 s), with no batch to carry it.
    const deadline = Date.now() + 10_000;
    while ((await readCheckpoint(h.db, 'server_instances')) < appended.lastPosition) {
      assert.ok(Date.now() < deadline, 'the checkpoint row never caught up');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(await readCheckpoint(h.db, 'server_instances'), appended.lastPosition);
  });

  test('status reports position and health', () => {
    const [status] = runner.status();
    assert.equal(status?.name, 'server_instances');
    assert.equal(status?.running, true);
    assert.equal(status?.failures, 0);
    assert.equal(status?.lastError, undefined);
    assert.equal(status?.position, runner.positions().server_instances);
  });

  test('a restarted runner continues from its checkpoint without reapplying', async () => {
    await runner.stop();
    assert.equal(runner.status()[0]?.running, false);
    const before = await h.db
      .selectFrom('server_instances')
      .select(h.db.fn.countAll().as('n'))
      .executeTakeFirst();
    const { lastPosition } = await h.store.appendToStream(`server-${randomUUID()}`, [serverStarted(2)]);
    const second = new ProjectionRunner({
      store: h.store,
      db: h.db,
      projections: [serverInstancesProjection],
    });
    await second.start();
    // start() loads the checkpoint before returning.
    assert.equal(second.positions().server_instances, runner.positions().server_instances);
    assert.equal(await second.waitForPosition(lastPosition, 10_000), true);
    const afterCount = await h.db
      .selectFrom('server_instances')
      .select(h.db.fn.countAll().as('n'))
      .executeTakeFirst();
    assert.equal(Number(afterCount?.n), Number(before?.n) + 1);
    await second.stop();
    runner = second;
  });
});

describe('ProjectionRunner over batches it has nothing to write for', () => {
  let h: Harness;

  before(async () => {
    h = await createHarness();
  });

  after(async () => {
    await h.dispose();
  });

  test('opens no transaction for them, writes their checkpoint with the next batch or on stop', async () => {
    const runner = new ProjectionRunner({
      store: h.store,
      db: h.db,
      projections: [serverInstancesProjection],
      batchSize: 2,
      checkpointIntervalMs: 3_600_000,
    });
    await runner.start();
    try {
      const start = await readCheckpoint(h.db, 'server_instances');
      const unhandled = await h.store.appendToStream(`other-${randomUUID()}`, [
        { type: 'SomethingElse', data: { x: 1 }, metadata: metadata() },
        { type: 'SomethingElse', data: { x: 2 }, metadata: metadata() },
        { type: 'SomethingElse', data: { x: 3 }, metadata: metadata() },
      ]);
      assert.equal(await runner.waitForPosition(unhandled.lastPosition, 10_000), true);
      // The view is as it would be after those events; the row has not been touched.
      assert.equal(await readCheckpoint(h.db, 'server_instances'), start);

      // A handled event: its transaction writes the row past the unhandled ones too.
      const instanceId = randomUUID();
      const started = await h.store.appendToStream(`server-${instanceId}`, [serverStarted(7, instanceId)]);
      assert.equal(await runner.waitForPosition(started.lastPosition, 10_000), true);
      assert.equal(await readCheckpoint(h.db, 'server_instances'), started.lastPosition);
      const rows = await h.db
        .selectFrom('server_instances')
        .select('instance_id')
        .where('instance_id', '=', instanceId)
        .execute();
      assert.equal(rows.length, 1);

      const more = await h.store.appendToStream(`other-${randomUUID()}`, [
        { type: 'SomethingElse', data: { x: 4 }, metadata: metadata() },
      ]);
      assert.equal(await runner.waitForPosition(more.lastPosition, 10_000), true);
      assert.equal(await readCheckpoint(h.db, 'server_instances'), started.lastPosition);
    } finally {
      await runner.stop();
    }
    // stop() wrote the position it had reached.
    assert.equal(await readCheckpoint(h.db, 'server_instances'), runner.positions().server_instances);
    assert.equal(runner.positions().server_instances, await h.store.headPosition());
  });
});
