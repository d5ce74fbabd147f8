/**
 * rebuild(name) replays from position 0 into scratch tables and swaps them in: the rows are
 * identical to the live ones, also when appends continue meanwhile; queries never see a
 * half-built table; index and constraint names survive; a failed rebuild changes nothing.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type ColumnType, type Kysely, sql } from 'kysely';
import type { ReadModel } from '../../src/adapters/readmodel/schema.js';
import { readCheckpoint } from '../../src/projections/checkpoints.js';
import type { DomainProjection } from '../../src/projections/projection.js';
import { rebuildProjection } from '../../src/projections/rebuild.js';
import { type ProjectionLogger, ProjectionRunner } from '../../src/projections/runner.js';
import { serverInstancesProjection } from '../../src/projections/server-instances.js';
import {
  counterProjection,
  counterRows,
  createCounterTable,
  inRebuild,
} from './fixtures/counter-projection.js';
import {
  appendLifetimes,
  appendStarted,
  appendStartedEach,
  createHarness,
  type Harness,
  lastCommittedPosition,
  serverStarted,
} from './harness.js';

let h: Harness;

before(async () => {
  h = await createHarness();
  await createCounterTable(h.db);
});

after(() => h.dispose());

/** Columns, indexes and constraints of a table, by name and definition. */
async function catalog(db: Kysely<ReadModel>, table: string): Promise<unknown> {
  const columns = await sql`
    SELECT column_name, data_type, is_nullable, column_default, is_identity
    FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ${table}
    ORDER BY ordinal_position`.execute(db);
  const indexes = await sql`
    SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE i.indrelid = ${`public.${table}`}::regclass ORDER BY 1`.execute(db);
  const constraints = await sql`
    SELECT conname, contype, pg_get_constraintdef(oid) AS def
    FROM pg_constraint WHERE conrelid = ${`public.${table}`}::regclass ORDER BY 1`.execute(db);
  return { columns: columns.rows, indexes: indexes.rows, constraints: constraints.rows };
}

/** Rows in exactly one of two tables (multiset difference both ways). */
async function differences(db: Kysely<ReadModel>, a: string, b: string): Promise<number> {
  const result = await sql<{ n: string }>`
    SELECT count(*) AS n FROM (
      (TABLE ${sql.table(a)} EXCEPT ALL TABLE ${sql.table(b)})
      UNION ALL
      (TABLE ${sql.table(b)} EXCEPT ALL TABLE ${sql.table(a)})
    ) d`.execute(db);
  return Number(result.rows[0]?.n);
}

async function scratchSchemas(db: Kysely<ReadModel>): Promise<string[]> {
  const result = await sql<{ nspname: string }>`
    SELECT nspname FROM pg_namespace WHERE nspname LIKE 'sluice_rebuild_%'`.execute(db);
  return result.rows.map((r) => r.nspname);
}

/** server_instances as the events say it should be. */
async function expectedServerInstances(): Promise<unknown[]> {
  const rows = new Map<string, Record<string, unknown>>();
  for (let after = 0; ; ) {
    const events = await h.store.readAll({ after, limit: 10_000 });
    if (events.length === 0) break;
    for (const e of events) {
      const data = e.data as Record<string, string | number>;
      if (e.type === 'ServerStarted') {
        rows.set(String(data.instanceId), {
          instance_id: data.instanceId,
          hostname: data.hostname,
          pid: data.pid,
          version: data.version,
          event_store: data.eventStore,
          started_at: new Date(String(data.startedAt)).toISOString(),
          started_position: e.globalPosition,
          stopped_at: null,
          stop_reason: null,
        });
      } else if (e.type === 'ServerStopped') {
        const row = rows.get(String(data.instanceId));
        if (row)
          Object.assign(row, {
            stopped_at: new Date(String(data.stoppedAt)).toISOString(),
            stop_reason: data.reason,
          });
      }
    }
    after = events.at(-1)!.globalPosition;
  }
  return [...rows.values()].sort((a, b) => Number(a.started_position) - Number(b.started_position));
}

async function actualServerInstances(): Promise<unknown[]> {
  const rows = await h.db.selectFrom('server_instances').selectAll().orderBy('started_position').execute();
  return rows.map((r) => ({
    ...r,
    started_at: r.started_at.toISOString(),
    started_position: Number(r.started_position),
    stopped_at: r.stopped_at?.toISOString() ?? null,
  }));
}

describe('rebuild of server_instances', () => {
  let runner: ProjectionRunner;
  let onWarn: ((msg: string) => void) | undefined;
  const logger: ProjectionLogger = {
    info: () => undefined,
    warn: (_obj, msg) => onWarn?.(msg),
    error: () => undefined,
  };

  before(async () => {
    await appendLifetimes(h.store, 60);
    runner = new ProjectionRunner({
      store: h.store,
      db: h.db,
      projections: [serverInstancesProjection],
      batchSize: 10,
      logger,
      rebuildLockTimeoutMs: 100,
    });
    await runner.start();
  });

  after(() => runner.stop());

  test('yields identical rows, indexes and constraint names', async () => {
    const head = await lastCommittedPosition(h.db);
    assert.equal(await runner.waitForPosition(head, 30_000), true);
    await sql`CREATE TABLE snapshot_1 AS TABLE server_instances`.execute(h.db);
    const before = await catalog(h.db, 'server_instances');
    const beforeOid = await sql<{ oid: number }>`SELECT 'server_instances'::regclass::oid AS oid`.execute(
      h.db,
    );

    assert.equal(await runner.rebuild('server_instances'), head);

    const afterOid = await sql<{ oid: number }>`SELECT 'server_instances'::regclass::oid AS oid`.execute(
      h.db,
    );
    assert.notEqual(afterOid.rows[0]?.oid, beforeOid.rows[0]?.oid, 'the table was replaced');
    assert.equal(await differences(h.db, 'snapshot_1', 'server_instances'), 0);
    assert.deepEqual(await catalog(h.db, 'server_instances'), before);
    assert.deepEqual(await actualServerInstances(), await expectedServerInstances());
    assert.equal(await readCheckpoint(h.db, 'server_instances'), head);
    assert.deepEqual(await scratchSchemas(h.db), []);

    // The live runner goes on writing into the new table.
    const instanceId = randomUUID();
    const { lastPosition } = await h.store.appendToStream(`server-${instanceId}`, [
      serverStarted(999, instanceId),
    ]);
    assert.equal(await runner.waitForPosition(lastPosition, 10_000), true);
    const row = await h.db
      .selectFrom('server_instances')
      .select('hostname')
      .where('instance_id', '=', instanceId)
      .executeTakeFirst();
    assert.equal(row?.hostname, 'host-999');
  });

  test('while appends continue and queries read, rows stay identical and never shrink', async () => {
    let writing = true;
    let appendedDuring = 0;
    const writer = (async () => {
      for (let i = 1000; writing; i += 1) {
        await appendLifetimes(h.store, 1, i);
        appendedDuring += 1;
      }
    })();
    let reading = true;
    let reads = 0;
    const reader = (async () => {
      let previous = 0;
      while (reading) {
        const result = await h.db
          .selectFrom('server_instances')
          .select(h.db.fn.countAll().as('n'))
          .executeTakeFirstOrThrow();
        const n = Number(result.n);
        assert.ok(n >= previous, `a query saw ${n} rows after ${previous}`);
        previous = n;
        reads += 1;
      }
    })();
    try {
      await runner.rebuild('server_instances');
    } finally {
      writing = false;
      reading = false;
      await Promise.all([writer, reader]);
    }
    assert.ok(appendedDuring > 0 && reads > 0);

    const head = await lastCommittedPosition(h.db);
    assert.equal(await runner.waitForPosition(head, 30_000), true);
    assert.deepEqual(await actualServerInstances(), await expectedServerInstances());

    // And a rebuild with nothing moving gives the very same rows.
    await sql`CREATE TABLE snapshot_2 AS TABLE server_instances`.execute(h.db);
    assert.equal(await runner.rebuild('server_instances'), head);
    assert.equal(await differences(h.db, 'snapshot_2', 'server_instances'), 0);
    assert.deepEqual(await scratchSchemas(h.db), []);
  });

  test('the swap waits for readers of the live table, retrying after lock_timeout', async () => {
    const { pool } = h.database.open({ max: 1 });
    const client = await pool.connect();
    await client.query('BEGIN');
    await client.query('SELECT count(*) FROM server_instances');
    const warned = new Promise<string>((resolve) => {
      onWarn = resolve;
    });
    const rebuilt = runner.rebuild('server_instances');
    assert.match(await warned, /live tables busy/);
    onWarn = undefined;
    // The reader still sees the old table, whole.
    const during = await client.query('SELECT count(*)::int AS n FROM server_instances');
    await client.query('COMMIT');
    client.release();
    const position = await rebuilt;
    const now = await h.db
      .selectFrom('server_instances')
      .select(h.db.fn.countAll().as('n'))
      .executeTakeFirst();
    assert.equal(Number(now?.n), during.rows[0].n);
    assert.equal(await readCheckpoint(h.db, 'server_instances'), position);
    assert.deepEqual(await scratchSchemas(h.db), []);
  });
});

describe('rebuild of a test projection', () => {
  test('replays under the lock the tail the live runner got ahead with', async () => {
    const head = await appendStarted(h.store, 20);
    let swapping = false;
    const tail: number[] = [];
    const projection = counterProjection({
      onApply: async (positions, trx) => {
        if (swapping && (await inRebuild(trx))) tail.push(...positions);
      },
    });
    const runner = new ProjectionRunner({
      store: h.store,
      db: h.db,
      batchSize: 5,
      projections: [projection],
    });
    await runner.start();
    try {
      assert.equal(await runner.waitForPosition(head, 10_000), true);
      let appended: number[] = [];
      const position = await rebuildProjection({
        store: h.store,
        db: h.db,
        projection,
        batchSize: 5,
        // After the replay, the live runner gets 3 events ahead before the swap.
        beforeSwap: async () => {
          appended = await appendStartedEach(h.store, 3, 500);
          assert.equal(await runner.waitForPosition(appended.at(-1)!, 10_000), true);
          swapping = true;
        },
      });
      assert.equal(position, appended.at(-1));
      assert.deepEqual(tail.slice(-3), appended, 'the swap transaction replayed the tail');
      const started = (await h.store.readAll({ limit: 10_000 }))
        .filter((e) => e.type === 'ServerStarted')
        .map((e) => e.globalPosition);
      const rows = await counterRows(h.db);
      assert.equal(rows.count, rows.distinct);
      assert.deepEqual(rows.positions, started);
    } finally {
      await runner.stop();
    }
  });

  test('keeps custom index and constraint names and identity columns', async () => {
    await sql`
      CREATE TABLE named_rows (
        seq bigint GENERATED ALWAYS AS IDENTITY,
        position bigint NOT NULL CONSTRAINT named_rows_custom_pk PRIMARY KEY,
        host text NOT NULL CONSTRAINT named_rows_host_unique UNIQUE,
        CONSTRAINT named_rows_position_positive CHECK (position > 0)
      )`.execute(h.db);
    await sql`CREATE UNIQUE INDEX named_rows_lower_host ON named_rows (lower(host)) WHERE position > 1`.execute(
      h.db,
    );
    await sql`CREATE INDEX named_rows_by_seq ON named_rows (seq DESC)`.execute(h.db);
    // An index whose generated copy name (named_rows_host_idx) is another index's live name.
    await sql`CREATE INDEX named_rows_host_idx ON named_rows (host, seq)`.execute(h.db);
    await sql`CREATE INDEX named_rows_x ON named_rows (host)`.execute(h.db);
    const projection: DomainProjection = {
      name: 'named',
      handles: ['ServerStarted'],
      tables: ['named_rows'],
      async apply(trx, events) {
        const db = trx.withTables<{
          named_rows: { seq: ColumnType<string, never, never>; position: number; host: string };
        }>();
        for (const event of events) {
          if (event.type !== 'ServerStarted') continue;
          await db
            .insertInto('named_rows')
            .values({
              position: event.globalPosition,
              host: `${event.data.hostname}-${event.globalPosition}`,
            })
            .execute();
        }
      },
    };
    const runner = new ProjectionRunner({
      store: h.store,
      db: h.db,
      batchSize: 7,
      projections: [projection],
    });
    await runner.start();
    try {
      const head = await lastCommittedPosition(h.db);
      assert.equal(await runner.waitForPosition(head, 10_000), true);
      const before = await catalog(h.db, 'named_rows');
      await sql`CREATE TABLE snapshot_named AS TABLE named_rows`.execute(h.db);
      await runner.rebuild('named');
      assert.deepEqual(await catalog(h.db, 'named_rows'), before);
      assert.equal(await differences(h.db, 'snapshot_named', 'named_rows'), 0);
      // The identity sequence moved along and continues after the replayed rows.
      const last = await appendStarted(h.store, 1, 700);
      assert.equal(await runner.waitForPosition(last, 10_000), true);
      const seqs = await sql<{
        max: string;
        n: string;
      }>`SELECT max(seq) AS max, count(*) AS n FROM named_rows`.execute(h.db);
      assert.equal(seqs.rows[0]?.max, seqs.rows[0]?.n);
    } finally {
      await runner.stop();
    }
  });

  test('a failing rebuild leaves the live table and checkpoint as they were', async () => {
    const projection = counterProjection({
      onApply: async (_positions, trx) => {
        if (await inRebuild(trx)) throw new Error('replay failed');
      },
    });
    const runner = new ProjectionRunner({
      store: h.store,
      db: h.db,
      batchSize: 5,
      projections: [projection],
    });
    await runner.start();
    try {
      const head = await lastCommittedPosition(h.db);
      assert.equal(await runner.waitForPosition(head, 10_000), true);
      const before = await counterRows(h.db);
      await assert.rejects(runner.rebuild('counter'), /replay failed/);
      assert.deepEqual(await counterRows(h.db), before);
      assert.equal(await readCheckpoint(h.db, 'counter'), head);
      assert.deepEqual(await scratchSchemas(h.db), []);
      assert.equal(runner.status()[0]?.rebuilding, false);
      await assert.rejects(runner.rebuild('nope'), /unknown projection/);
    } finally {
      await runner.stop();
    }
  });
});
