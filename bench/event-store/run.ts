/**
 * `npm run bench:event-store`: throughput of the PostgreSQL EventStore adapter on a throw-away
 * embedded PostgreSQL (default settings and durability). See bench/README.md.
 *
 *   --events=N     events per append case (default 50,000; env BENCH_EVENTS)
 *   --total=N      events in the store for the catch-up reads (default 1,000,000; env BENCH_TOTAL)
 *   --diagnose     also: appends without NOTIFY, and read time split into server / transfer and
 *                  row decode / JSON.parse / Date (env BENCH_DIAGNOSE=1)
 *
 * Every run also measures NOTES.md's raw-table method beside the adapter (calibration), since
 * disk flush times differ between machines and days. Prints tables only; writes no result
 * files. Figures are for reading, never for assertions.
 */

import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { type DatabaseHandle, openDatabase } from '../../src/adapters/database/connect.js';
import { startEmbeddedPostgres } from '../../src/adapters/database/embedded-postgres.js';
import { migrate } from '../../src/adapters/database/migrate.js';
import { AppendNotifier } from '../../src/adapters/eventstore/postgres/append-notifier.js';
import { eventStoreMigrations } from '../../src/adapters/eventstore/postgres/migrations/index.js';
import { PostgresEventStore } from '../../src/adapters/eventstore/postgres/postgres-event-store.js';
import type { EventStore, ExpectedRevision, NewEvent } from '../../src/domain/event-store.js';
import type { EventMetadata } from '../../src/domain/events/envelope.js';
import { freePort } from '../../test/support/free-port.js';
import { positiveInt, UsageError, withWorkDir } from '../support/common.js';
import { argValue } from '../support/options.js';

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  readonly events: number;
  readonly total: number;
  readonly diagnose: boolean;
}

function parseOptions(): Options {
  const known = new Set(['--events', '--total', '--diagnose', '--help']);
  for (const arg of process.argv.slice(2)) {
    const key = arg.split('=')[0]!;
    if (key.startsWith('--') && !known.has(key)) throw new UsageError(`unknown option ${arg} (see --help)`);
  }
  if (process.argv.includes('--help')) {
    process.stdout.write(
      'usage: npm run bench:event-store -- [--events=N] [--total=N] [--diagnose]\n' +
        '  --events   events per append case (default 50000, env BENCH_EVENTS)\n' +
        '  --total    events for the catch-up reads (default 1000000, env BENCH_TOTAL)\n' +
        '  --diagnose also appends without NOTIFY and a breakdown of read time\n',
    );
    process.exit(0);
  }
  return {
    events: positiveInt('--events', argValue('events') ?? process.env.BENCH_EVENTS, 50_000),
    total: positiveInt('--total', argValue('total') ?? process.env.BENCH_TOTAL, 1_000_000),
    diagnose: process.argv.includes('--diagnose') || process.env.BENCH_DIAGNOSE === '1',
  };
}

// ---------------------------------------------------------------------------------------------
// Realistic events: ~200-byte data and the real envelope metadata

const EVENT_TYPES = ['UploadStarted', 'FileUploaded', 'TransferCompleted', 'DownloadStarted'] as const;

function makeData(i: number): Record<string, unknown> {
  return {
    transferId: randomUUID(),
    path: `/inbound/acme-corp/invoices/2025-11/INV-${String(i % 1_000_000).padStart(6, '0')}.pdf`,
    sizeBytes: 1_048_576 + (i % 65_536),
    sha256: randomBytes(32).toString('hex'),
    protocol: 'sftp',
  };
}

function makeMetadata(sessionId: string, correlationId: string): EventMetadata {
  return {
    envelopeVersion: 1,
    correlationId,
    actor: { userId: 42, applicationId: 7, sessionId, clientIp: '203.0.113.57' },
  };
}

/** One command's events: they share a correlation id, as events of one request do. */
function makeEvents(count: number, sessionId: string, seq: number): NewEvent[] {
  const metadata = makeMetadata(sessionId, randomUUID());
  const events: NewEvent[] = new Array(count);
  for (let i = 0; i < count; i++) {
    events[i] = { type: EVENT_TYPES[(seq + i) % EVENT_TYPES.length]!, data: makeData(seq + i), metadata };
  }
  return events;
}

// ---------------------------------------------------------------------------------------------
// Measurement helpers

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds used so far by this process and by the PostgreSQL server (postmaster + backends). */
class CpuMeter {
  constructor(private readonly postmasterPid: number | undefined) {}

  private static ticks(stat: string, fields: readonly number[]): number {
    // Fields after "pid (comm)": index 0 is field 3 (state); comm may contain spaces.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields.reduce((sum, f) => sum + Number(rest[f - 3] ?? 0), 0);
  }

  async sample(): Promise<{ node: number; pg: number }> {
    const usage = process.cpuUsage();
    const node = (usage.user + usage.system) / 1e6;
    const parent = this.postmasterPid;
    if (parent === undefined) return { node, pg: Number.NaN };
    let ticks = 0;
    for (const entry of await readdir('/proc').catch(() => [] as string[])) {
      if (!/^\d+$/.test(entry)) continue;
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
      if (!stat) continue;
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      // utime, stime of live backends; the postmaster adds its reaped children's (cutime, cstime).
      if (Number(entry) === parent) ticks += CpuMeter.ticks(stat, [14, 15, 16, 17]);
      else if (ppid === parent) ticks += CpuMeter.ticks(stat, [14, 15]);
    }
    return { node, pg: ticks / CLOCK_TICKS };
  }

  /** Runs `work` and returns its result with CPU use as a share of one core over its wall time. */
  async measure<T extends { seconds: number }>(work: () => Promise<T>): Promise<T & { cpu: Cpu }> {
    const before = await this.sample();
    const result = await work();
    const after = await this.sample();
    return {
      ...result,
      cpu: {
        node: (after.node - before.node) / result.seconds,
        pg: (after.pg - before.pg) / result.seconds,
        load: os.loadavg()[0]!,
      },
    };
  }
}

async function postmasterPid(clusterDir: string): Promise<number | undefined> {
  const text = await readFile(path.join(clusterDir, 'postmaster.pid'), 'utf8').catch(() => '');
  const pid = Number(text.split('\n')[0]);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/** Share of one core (1 = one core busy for the whole case), and the machine's load when it ended. */
interface Cpu {
  readonly node: number;
  readonly pg: number;
  /** 1-minute load average at the end of the case: above the core count, other work competed. */
  readonly load: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

interface AppendResultRow {
  readonly name: string;
  readonly writers: number;
  readonly batch: number;
  readonly expected: string;
  readonly events: number;
  readonly appends: number;
  readonly seconds: number;
  readonly p50: number;
  readonly p99: number;
  readonly cpu?: Cpu;
  /** NOTES.md's events/s for a comparable raw-table case. */
  readonly notes?: number;
  /** This run's events/s on a raw table for the same writers × batch. */
  readonly raw?: number;
}

interface ReadResultRow {
  readonly name: string;
  readonly page: number;
  readonly events: number;
  readonly seconds: number;
  readonly cpu?: Cpu;
  readonly notes?: number;
  readonly raw?: number;
}

/** Runs `writers` loops of `appendsPerWriter` timed calls each; returns wall time and latencies. */
async function runWriters(
  writers: number,
  appendsPerWriter: number,
  once: (writer: number, i: number) => Promise<void>,
): Promise<{ seconds: number; latencies: Float64Array }> {
  const latencies = new Float64Array(writers * appendsPerWriter);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; i < appendsPerWriter; i++) {
        const t0 = performance.now();
        await once(w, i);
        latencies[w * appendsPerWriter + i] = performance.now() - t0;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort();
  return { seconds, latencies };
}

/** Appends per stream before a writer moves to a new stream (a transfer's life is short). */
const APPENDS_PER_STREAM = 10;

async function appendCase(
  store: EventStore,
  name: string,
  writers: number,
  batch: number,
  mode: 'exact' | 'any',
  totalEvents: number,
): Promise<AppendResultRow> {
  const appendsPerWriter = Math.max(1, Math.ceil(totalEvents / batch / writers));
  const tag = randomBytes(4).toString('hex');
  const sessions = Array.from({ length: writers }, () => randomUUID());
  // Exact revisions tracked per stream, as a command handler does after loading the stream.
  const revisions = new Map<string, number>();
  let seq = 0;
  // Warm-up: every writer's pool connection made and one append done before timing.
  await Promise.all(
    sessions.map((session, w) =>
      store.appendToStream(`bench-warm-${tag}-${w}`, makeEvents(batch, session, 0), {
        expectedRevision: mode === 'exact' ? 'no_stream' : 'any',
      }),
    ),
  );
  const { seconds, latencies } = await runWriters(writers, appendsPerWriter, async (w, i) => {
    const stream = `transfer-${tag}-w${w}-${Math.floor(i / APPENDS_PER_STREAM)}`;
    const known = revisions.get(stream);
    const expectedRevision: ExpectedRevision = mode === 'any' ? 'any' : (known ?? 'no_stream');
    const result = await store.appendToStream(stream, makeEvents(batch, sessions[w]!, seq++), {
      expectedRevision,
    });
    revisions.set(stream, result.nextExpectedRevision);
  });
  const appends = writers * appendsPerWriter;
  return {
    name,
    writers,
    batch,
    expected: mode,
    events: appends * batch,
    appends,
    seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

/** NOTES.md's method: a plain table with a bigserial and an xid8 column, inserts through pg. */
async function rawAppendCase(
  pool: pg.Pool,
  name: string,
  writers: number,
  batch: number,
  totalEvents: number,
): Promise<AppendResultRow> {
  const appendsPerWriter = Math.max(1, Math.ceil(totalEvents / batch / writers));
  const session = randomUUID();
  const once = async (w: number, i: number) => {
    const events = makeEvents(batch, session, i);
    if (batch === 1) {
      const e = events[0]!;
      await pool.query('INSERT INTO raw_events (stream_id, type, data, metadata) VALUES ($1, $2, $3, $4)', [
        `raw-${w}`,
        e.type,
        JSON.stringify(e.data),
        JSON.stringify(e.metadata),
      ]);
    } else {
      await pool.query(
        `INSERT INTO raw_events (stream_id, type, data, metadata)
         SELECT $1, t, d, m FROM unnest($2::text[], $3::jsonb[], $4::jsonb[]) AS e(t, d, m)`,
        [
          `raw-${w}`,
          events.map((e) => e.type),
          events.map((e) => JSON.stringify(e.data)),
          events.map((e) => JSON.stringify(e.metadata)),
        ],
      );
    }
  };
  await Promise.all(Array.from({ length: writers }, (_, w) => once(w, 0)));
  const { seconds, latencies } = await runWriters(writers, appendsPerWriter, once);
  const appends = writers * appendsPerWriter;
  return {
    name,
    writers,
    batch,
    expected: '-',
    events: appends * batch,
    appends,
    seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

// ---------------------------------------------------------------------------------------------
// Fill and reads

async function countEvents(handle: DatabaseHandle<unknown>): Promise<number> {
  const result = await sql<{ n: string }>`SELECT count(*) AS n FROM events`.execute(handle.db);
  return Number(result.rows[0]?.n ?? 0);
}

/** Tops the store up to `total` events through the adapter: 4 writers, 1,000 events per append. */
async function fill(store: EventStore, missing: number): Promise<AppendResultRow> {
  const batch = 1000;
  const writers = 4;
  const appends = Math.ceil(missing / batch);
  const session = randomUUID();
  const tag = randomBytes(4).toString('hex');
  let next = 0;
  let done = 0;
  const latencies: number[] = [];
  const started = performance.now();
  let lastReport = started;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      for (let i = next++; i < appends; i = next++) {
        const count = Math.min(batch, missing - i * batch);
        const t0 = performance.now();
        await store.appendToStream(`fill-${tag}-${i}`, makeEvents(count, session, i * batch), {
          expectedRevision: 'no_stream',
        });
        latencies.push(performance.now() - t0);
        done += count;
        if (performance.now() - lastReport > 10_000) {
          lastReport = performance.now();
          process.stderr.write(
            `  fill: ${done.toLocaleString('en-US')} / ${missing.toLocaleString('en-US')}\n`,
          );
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return {
    name: 'fill (bulk)',
    writers,
    batch,
    expected: 'no_stream',
    events: missing,
    appends,
    seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
  };
}

/** Checks order and count of what a reader delivered. */
class DeliveryCheck {
  count = 0;
  last = 0;
  add(positions: readonly number[]): void {
    for (const p of positions) {
      if (p <= this.last) throw new Error(`position ${p} delivered after ${this.last}`);
      this.last = p;
    }
    this.count += positions.length;
  }
}

async function subscribeCase(
  store: EventStore,
  expected: number,
  batchSize: number | undefined,
): Promise<ReadResultRow> {
  const check = new DeliveryCheck();
  const controller = new AbortController();
  const started = performance.now();
  for await (const batch of store.subscribeToAll({ after: 0, batchSize, signal: controller.signal })) {
    check.add(batch.map((e) => e.globalPosition));
    if (check.count >= expected) break;
  }
  controller.abort();
  const seconds = (performance.now() - started) / 1000;
  if (check.count !== expected) throw new Error(`subscription delivered ${check.count} of ${expected}`);
  return {
    name: `subscribeToAll from 0${batchSize === undefined ? ' (default batch)' : ''}`,
    page: batchSize ?? 500,
    events: check.count,
    seconds,
  };
}

async function readAllCase(store: EventStore, expected: number, limit: number): Promise<ReadResultRow> {
  const check = new DeliveryCheck();
  const started = performance.now();
  for (;;) {
    const page = await store.readAll({ after: check.last, limit });
    if (page.length === 0) break;
    check.add(page.map((e) => e.globalPosition));
  }
  const seconds = (performance.now() - started) / 1000;
  if (check.count !== expected) throw new Error(`readAll returned ${check.count} of ${expected}`);
  return { name: 'readAll paging', page: limit, events: check.count, seconds };
}

/** A read query through a bare pg client, paged by position; `n` in the row counts server-side pages. */
interface RawRead {
  readonly name: string;
  readonly query: string;
}

const SELECT_ROW = 'global_position, stream_id, stream_revision, event_id, type, data, metadata, recorded_at';
const SELECT_TEXT =
  'global_position, stream_id, stream_revision, event_id, type, data::text AS data, metadata::text AS metadata, recorded_at';
const VISIBLE = 'transaction_id < pg_snapshot_xmin(pg_current_snapshot())';

/** NOTES.md's read method: a plain SELECT paged by position, rows parsed by pg. */
const RAW_PLAIN: RawRead = {
  name: 'raw pg: plain SELECT * (NOTES method)',
  query: 'SELECT * FROM events WHERE global_position > $1 ORDER BY global_position LIMIT $2',
};

/**
 * The adapter's read query in steps, to show where read time goes: pg row parsing (jsonb →
 * JSON.parse, timestamptz → Date), jsonb as text (no JSON.parse), and the server alone (the
 * page is scanned but only its last position and size come back).
 */
const RAW_BREAKDOWN: readonly RawRead[] = [
  {
    name: 'raw pg: adapter SQL, rows parsed',
    query: `SELECT ${SELECT_ROW} FROM events WHERE global_position > $1 AND ${VISIBLE} ORDER BY global_position LIMIT $2`,
  },
  {
    name: 'raw pg: adapter SQL, jsonb as text',
    query: `SELECT ${SELECT_TEXT} FROM events WHERE global_position > $1 AND ${VISIBLE} ORDER BY global_position LIMIT $2`,
  },
  {
    name: 'raw pg: adapter SQL, jsonb + timestamptz as text',
    query: `SELECT ${SELECT_TEXT.replace('recorded_at', 'recorded_at::text AS recorded_at')} FROM events WHERE global_position > $1 AND ${VISIBLE} ORDER BY global_position LIMIT $2`,
  },
  {
    name: 'server only: page scanned, not sent',
    query: `SELECT max(global_position) AS global_position, count(*)::int AS n FROM (SELECT ${SELECT_ROW} FROM events WHERE global_position > $1 AND ${VISIBLE} ORDER BY global_position LIMIT $2) AS p`,
  },
];

async function rawReadCase(
  client: pg.Client,
  read: RawRead,
  expected: number,
  limit: number,
): Promise<ReadResultRow> {
  let after = 0;
  let count = 0;
  const started = performance.now();
  for (;;) {
    const result = await client.query<{ global_position: string | null; n?: number }>(read.query, [
      after,
      limit,
    ]);
    const n = result.rows[0]?.n ?? result.rows.length;
    const last = result.rows[result.rows.length - 1]?.global_position;
    if (n === 0 || last === null || last === undefined) break;
    count += n;
    after = Number(last);
  }
  const seconds = (performance.now() - started) / 1000;
  if (count !== expected) throw new Error(`${read.name}: read ${count} of ${expected}`);
  return { name: read.name, page: limit, events: count, seconds };
}

// ---------------------------------------------------------------------------------------------
// Output

const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : '-';

const ratio = (ours: number, ref: number | undefined) => (ref === undefined ? '' : `${fmt(ours / ref, 2)}×`);
const cpuCell = (cpu: Cpu | undefined) =>
  cpu === undefined ? '' : `${fmt(cpu.node * 100)}% + ${fmt(cpu.pg * 100)}%`;

/** What both tables end with: CPU and load during the case, its rate against NOTES.md's and this run's raw table. */
interface Compared {
  readonly cpu?: Cpu;
  readonly notes?: number;
  readonly raw?: number;
}

const COMPARED_HEADERS = ['CPU node + pg', 'load', 'NOTES ev/s', '÷ NOTES', 'raw ev/s', '÷ raw'];

function comparedCells(rate: number, r: Compared): string[] {
  return [
    cpuCell(r.cpu),
    r.cpu === undefined ? '' : fmt(r.cpu.load, 1),
    r.notes === undefined ? '' : fmt(r.notes),
    ratio(rate, r.notes),
    r.raw === undefined ? '' : fmt(r.raw),
    ratio(rate, r.raw),
  ];
}

function table(headers: string[], rows: string[][], rightAlignFrom = 1): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i >= rightAlignFrom ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i >= rightAlignFrom ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

function appendTable(rows: readonly AppendResultRow[]): string {
  return table(
    [
      'case',
      'writers',
      'ev/append',
      'expected',
      'events',
      'events/s',
      'appends/s',
      'p50 ms',
      'p99 ms',
      ...COMPARED_HEADERS,
    ],
    rows.map((r) => {
      const rate = r.events / r.seconds;
      return [
        r.name,
        String(r.writers),
        String(r.batch),
        r.expected,
        fmt(r.events),
        fmt(rate),
        fmt(r.appends / r.seconds),
        fmt(r.p50, 2),
        fmt(r.p99, 2),
        ...comparedCells(rate, r),
      ];
    }),
  );
}

function readTable(rows: readonly ReadResultRow[]): string {
  return table(
    ['read', 'page', 'events', 'seconds', 'events/s', ...COMPARED_HEADERS],
    rows.map((r) => {
      const rate = r.events / r.seconds;
      return [r.name, fmt(r.page), fmt(r.events), fmt(r.seconds, 1), fmt(rate), ...comparedCells(rate, r)];
    }),
  );
}

const loadAverage = () =>
  os
    .loadavg()
    .map((l) => fmt(l, 2))
    .join(' / ');

const log = (text: string) => process.stderr.write(`${text}\n`);

// ---------------------------------------------------------------------------------------------
// Main

/** NOTES.md "Event store on PostgreSQL": raw table, embedded-postgres 18.4, default durability. */
const NOTES_APPEND: Readonly<Record<string, number>> = {
  '1x1': 1_106,
  '8x1': 3_733,
  '1x100': 20_500,
  '8x100': 17_600,
};
const NOTES_READ_PAGED_5000 = 271_000;

const APPEND_SHAPES = [
  [1, 1],
  [8, 1],
  [1, 100],
  [8, 100],
] as const;

async function main(): Promise<void> {
  const options = parseOptions();
  await withWorkDir('pg', async (dir, onCleanup) => {
    const started = performance.now();
    log(`starting embedded PostgreSQL in ${dir}`);
    const server = await startEmbeddedPostgres({
      dataDir: dir,
      port: await freePort(),
      database: 'sluice_bench',
    });
    onCleanup(() => server.stop());
    const meter = new CpuMeter(await postmasterPid(server.clusterDir));
    const handle = openDatabase<unknown>(server.url);
    onCleanup(() => handle.db.destroy());
    await migrate(handle.db, { name: 'eventstore', migrations: eventStoreMigrations });
    const notifier = new AppendNotifier(server.url);
    onCleanup(() => notifier.close());
    // A running server has subscriptions, so its notifier is listening and appends NOTIFY.
    await notifier.start();
    const store = new PostgresEventStore({ db: handle.db, notifier });

    const settings = await sql<{ name: string; setting: string }>`
      SELECT name, setting FROM pg_settings
      WHERE name IN ('server_version', 'fsync', 'synchronous_commit', 'wal_sync_method', 'full_page_writes',
                     'shared_buffers', 'commit_delay', 'max_wal_size')
      ORDER BY name`.execute(handle.db);
    const sample = makeEvents(1, randomUUID(), 123_456)[0]!;
    const busy = os.loadavg()[0]! > os.cpus().length;
    const header = [
      `Sluice event-store benchmark, ${new Date().toISOString()}`,
      `node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${fmt(os.totalmem() / 2 ** 30)} GiB RAM`,
      `PostgreSQL: ${settings.rows.map((r) => `${r.name}=${r.setting}`).join(', ')}`,
      `event: data ${Buffer.byteLength(JSON.stringify(sample.data))} B + metadata ${Buffer.byteLength(JSON.stringify(sample.metadata))} B of JSON; pg pool max 20`,
      `events per append case: ${fmt(options.events)}; catch-up total: ${fmt(options.total)}`,
      `load average at start: ${loadAverage()}${busy ? ` (above ${os.cpus().length} cores: other work is running, figures will be low and noisy)` : ''}`,
    ];
    log(header.join('\n'));

    // Calibration (NOTES.md's raw-table method) runs beside each adapter case, shape by shape,
    // so both see the same machine state: the disk's flush time drifts over minutes.
    await handle.pool.query(`
      CREATE TABLE raw_events (
        position bigserial PRIMARY KEY,
        transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
        stream_id text NOT NULL, type text NOT NULL, data jsonb NOT NULL, metadata jsonb NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    // Same adapter, notifier not listening: appendToStream then sends no NOTIFY.
    const quietNotifier = new AppendNotifier(server.url);
    const quiet = new PostgresEventStore({ db: handle.db, notifier: quietNotifier });
    /** Each case starts after a checkpoint, so none pays for the previous case's dirty pages. */
    const measureCase = async <T extends { seconds: number }>(label: string, work: () => Promise<T>) => {
      log(label);
      await handle.pool.query('CHECKPOINT');
      return meter.measure(work);
    };
    const appendRows: AppendResultRow[] = [];
    const rawRows: AppendResultRow[] = [];
    const diagnosticAppends: AppendResultRow[] = [];
    for (const [writers, batch] of APPEND_SHAPES) {
      const shape = `${writers} writer(s) × ${batch} event(s)`;
      const notes = NOTES_APPEND[`${writers}x${batch}`];
      const raw = await measureCase(`raw table insert: ${shape}`, () =>
        rawAppendCase(handle.pool, 'raw table (NOTES method)', writers, batch, options.events),
      );
      rawRows.push({ ...raw, notes });
      const rawRate = raw.events / raw.seconds;
      const modes: readonly ('exact' | 'any')[] = batch === 1 ? ['exact', 'any'] : ['exact'];
      for (const mode of modes) {
        const row = await measureCase(`appendToStream: ${shape}, expected ${mode}`, () =>
          appendCase(store, 'appendToStream', writers, batch, mode, options.events),
        );
        appendRows.push({ ...row, notes, raw: rawRate });
      }
      if (options.diagnose) {
        const row = await measureCase(`appendToStream without NOTIFY: ${shape}`, () =>
          appendCase(quiet, 'appendToStream, no NOTIFY', writers, batch, 'exact', options.events),
        );
        diagnosticAppends.push({ ...row, raw: rawRate });
      }
    }
    await quietNotifier.close();
    await handle.pool.query('DROP TABLE raw_events');
    // Adapter lines in a fixed order: the exact-revision cases first, then 'any'.
    appendRows.sort((x, y) => Number(x.expected === 'any') - Number(y.expected === 'any'));

    log(`filling the store to ${fmt(options.total)} events`);
    const missing = options.total - (await countEvents(handle));
    if (missing > 0) appendRows.push(await measureCase('fill', () => fill(store, missing)));
    const total = await countEvents(handle);
    // Autovacuum would have done this on a live server; without it the first reader sets hint bits.
    await handle.pool.query('VACUUM ANALYZE events');

    log(`reading ${fmt(total)} events`);
    const rawClient = new pg.Client({ connectionString: server.url });
    await rawClient.connect();
    // Warm-up pass, not measured: pages into the OS cache, read path through the JIT.
    await readAllCase(store, total, 5000);
    const readRows: ReadResultRow[] = [];
    readRows.push(await meter.measure(() => subscribeCase(store, total, undefined)));
    readRows.push({
      ...(await meter.measure(() => subscribeCase(store, total, 5000))),
      notes: NOTES_READ_PAGED_5000,
    });
    readRows.push({
      ...(await meter.measure(() => readAllCase(store, total, 5000))),
      notes: NOTES_READ_PAGED_5000,
    });
    readRows.push(await meter.measure(() => readAllCase(store, total, 1000)));
    const rawRead = await meter.measure(() => rawReadCase(rawClient, RAW_PLAIN, total, 5000));
    const rawReadRate = rawRead.events / rawRead.seconds;
    for (const [i, row] of readRows.entries()) {
      if (row.page === 5000) readRows[i] = { ...row, raw: rawReadRate };
    }
    const rawReads: ReadResultRow[] = [{ ...rawRead, notes: NOTES_READ_PAGED_5000 }];
    if (options.diagnose) {
      for (const read of RAW_BREAKDOWN) {
        log(`read breakdown: ${read.name}`);
        rawReads.push(await meter.measure(() => rawReadCase(rawClient, read, total, 5000)));
      }
    }
    await rawClient.end();

    const out = [
      '',
      ...header,
      '',
      'Appends through PostgresEventStore.appendToStream (latency per append; CPU as % of one core;',
      'load = 1-minute load average when the case ended, this benchmark included (it alone adds about',
      `1 + writers while it appends); a much higher figure means other work competed for the ${os.cpus().length} cores;`,
      '÷ NOTES = ours / NOTES.md raw-table figure; ÷ raw = ours / raw-table figure measured below in this run)',
      appendTable(appendRows),
      '',
      options.diagnose
        ? 'Raw-table calibration and append diagnostics'
        : 'Raw-table calibration (NOTES.md method)',
      appendTable([...rawRows, ...diagnosticAppends]),
      '',
      `Catch-up reads over ${fmt(total)} events, from position 0 until all delivered`,
      readTable(readRows),
      '',
      options.diagnose ? 'Raw reads: calibration and breakdown' : 'Raw read calibration (NOTES.md method)',
      readTable(rawReads),
      '',
      `total run time ${fmt((performance.now() - started) / 1000)} s; load average at end: ${loadAverage()}`,
      '',
    ];
    process.stdout.write(out.join('\n'));
  });
}

main().catch((error: unknown) => {
  const text =
    error instanceof UsageError
      ? error.message
      : error instanceof Error
        ? (error.stack ?? error.message)
        : String(error);
  process.stderr.write(`${text}\n`);
  process.exitCode = 1;
});
