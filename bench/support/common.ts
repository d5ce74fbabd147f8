/**
 * What the benchmarks share: `--name=N` options, number formatting, Markdown tables for the
 * figures (stdout) and progress lines (stderr), percentiles, the machine's description, and a
 * throw-away embedded PostgreSQL with the event store and read model migrated.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { openDatabase } from '../../src/adapters/database/connect.js';
import { startEmbeddedPostgres } from '../../src/adapters/database/embedded-postgres.js';
import { migrate } from '../../src/adapters/database/migrate.js';
import { AppendNotifier } from '../../src/adapters/eventstore/postgres/append-notifier.js';
import { eventStoreMigrations } from '../../src/adapters/eventstore/postgres/migrations/index.js';
import { PostgresEventStore } from '../../src/adapters/eventstore/postgres/postgres-event-store.js';
import { readModelMigrations } from '../../src/adapters/readmodel/migrations/index.js';
import type { ReadModel } from '../../src/adapters/readmodel/schema.js';
import { DEFAULT_BATCH_SIZE } from '../../src/projections/runner.js';
import { freePort } from '../../test/support/free-port.js';

/** A wrong argument: the benchmark prints it alone and exits 2. */
export class UsageError extends Error {}

/** A positive integer (`_` and `,` may group digits); `fallback` when `text` is absent or empty. */
export function positiveInt(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text.replaceAll('_', '').replaceAll(',', ''));
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new UsageError(`${name} must be a positive integer, got "${text}"`);
  }
  return value;
}

/** `--name=N` (or the environment variable `env`), a positive integer; `fallback` when absent. */
export function option(name: string, env: string, fallback: number): number {
  const arg = process.argv.slice(2).find((a) => a.startsWith(`--${name}=`));
  return positiveInt(`--${name}`, arg?.slice(name.length + 3) ?? process.env[env], fallback);
}

/** Progress, on stderr. */
export const log = (message: string) => process.stderr.write(`${message}\n`);

export const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** A rate or a size for a table: whole from 100 up, one decimal below; '–' when there is none. */
export function figure(n: number): string {
  if (!Number.isFinite(n)) return '–';
  return n >= 100 ? n.toFixed(0) : n.toFixed(1);
}

/** A plain-text table: columns padded to their widest cell, those in `rightAligned` to the right. */
export function columns(rows: string[][], rightAligned: readonly number[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => (rightAligned.includes(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** A Markdown table under a title: the first column left-aligned, the others right-aligned. */
export function table(title: string, header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [
    `\n${title}\n`,
    line(header),
    `| ${widths.map((w, i) => (i === 0 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`,
    ...rows.map(line),
    '',
  ].join('\n');
}

/** `--name=N` options as `spec` lists them (each also from its environment variable); any other argument is refused. */
export function parseOptions<K extends string>(
  script: string,
  spec: Record<K, { readonly env: string; readonly fallback: number }>,
): Record<K, number> {
  const names = Object.keys(spec) as K[];
  for (const arg of process.argv.slice(2)) {
    if (!names.some((name) => arg.startsWith(`--${name}=`))) {
      throw new UsageError(
        `unknown argument ${arg}; usage: npm run ${script} -- ${names.map((n) => `[--${n}=N]`).join(' ')}`,
      );
    }
  }
  return Object.fromEntries(
    names.map((name) => [name, option(name, spec[name].env, spec[name].fallback)]),
  ) as Record<K, number>;
}

/** The machine and how busy it is, for a benchmark's header. */
export function machine(): string {
  const cpu = os.cpus();
  const load = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  return `node ${process.version}, ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, ${fmt(os.totalmem() / 2 ** 30)} GiB RAM, load ${load}`;
}

export interface BenchDatabase {
  /** The benchmark's own directory (removed at the end). */
  readonly dir: string;
  readonly url: string;
  readonly db: Kysely<ReadModel>;
  /** The PostgreSQL event store on it, its notifier listening as in a server. */
  readonly store: PostgresEventStore;
  /** Runs `cleanup` when the benchmark ends or is interrupted, before the database stops. */
  onCleanup(cleanup: () => Promise<void>): void;
}

/**
 * Runs `work` with a new directory under the temp dir (`sluice-bench-<name>-…`, open to others:
 * an embedded PostgreSQL in it runs as user postgres) and the clean-up steps it adds; runs them
 * newest first and removes the directory afterwards (or, with `keep`, says where it is), also on
 * Ctrl-C.
 */
export async function withWorkDir<T>(
  name: string,
  work: (dir: string, onCleanup: (cleanup: () => Promise<void>) => void) => Promise<T>,
  { keep = false }: { readonly keep?: boolean } = {},
): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `sluice-bench-${name}-`));
  await chmod(dir, 0o755);
  const cleanups: Array<() => Promise<void>> = [];
  // Once: an interrupt and the end of `work` it causes both ask for it.
  let cleaned: Promise<void> | undefined;
  const cleanup = () =>
    (cleaned ??= (async () => {
      for (const step of cleanups.reverse()) await step().catch(() => undefined);
      if (keep) log(`kept ${dir}`);
      else await rm(dir, { recursive: true, force: true });
    })());
  const onSignal = () => {
    log('interrupted: stopping what was started and removing its directory');
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await work(dir, (step) => cleanups.push(step));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

/** What a benchmark starts in its work directory (servers, their clients). */
export interface BenchServers {
  /** Stops what was started; safe to call more than once. */
  cleanup(): Promise<void>;
  /** After a failure, what may explain it (the servers' logs), before they are removed. */
  explainFailure(): Promise<void>;
}

/**
 * Runs `work` with the servers `make` sets up in a new work directory (withWorkDir): after a
 * failure they explain it, then they are stopped and the directory removed (kept with `keep`),
 * also on Ctrl-C.
 */
export function withServers<S extends BenchServers>(
  name: string,
  keep: boolean,
  make: (dir: string) => S,
  work: (servers: S, dir: string) => Promise<void>,
): Promise<void> {
  return withWorkDir(
    name,
    async (dir, onCleanup) => {
      const servers = make(dir);
      onCleanup(() => servers.cleanup());
      try {
        await work(servers, dir);
      } catch (error) {
        await servers.explainFailure();
        throw error;
      }
    },
    { keep },
  );
}

/**
 * Runs `work` on a throw-away embedded PostgreSQL (default settings and durability) in a new
 * directory under the temp dir, with the event store and the read model migrated; stops it and
 * removes the directory afterwards, also on Ctrl-C.
 */
export function withBenchDatabase<T>(name: string, work: (bench: BenchDatabase) => Promise<T>): Promise<T> {
  return withWorkDir(name, async (dir, onCleanup) => {
    log(`starting embedded PostgreSQL in ${dir}`);
    const server = await startEmbeddedPostgres({
      dataDir: path.join(dir, 'data'),
      port: await freePort(),
      database: 'sluice',
    });
    onCleanup(() => server.stop());
    const handle = openDatabase<ReadModel>(server.url, { max: 20 });
    onCleanup(() => handle.db.destroy());
    await migrate(handle.db, { name: 'eventstore', migrations: eventStoreMigrations });
    await migrate(handle.db, { name: 'readmodel', migrations: readModelMigrations });
    const notifier = new AppendNotifier(server.url);
    await notifier.start();
    const store = new PostgresEventStore({ db: handle.db, notifier });
    onCleanup(() => store.close());
    return work({ dir, url: server.url, db: handle.db, store, onCleanup });
  });
}

/** Runs a benchmark's main: a usage error prints alone (exit 2), anything else with its stack (exit 1). */
export function runBench(script: string, main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    process.stderr.write(
      `${script}: ${error instanceof UsageError ? error.message : String(error instanceof Error ? error.stack : error)}\n`,
    );
    process.exit(error instanceof UsageError ? 2 : 1);
  });
}

type OptionSpec = { readonly env: string; readonly fallback: number };

/**
 * The benchmarks over a loaded log (audit, merkle): `--events` (default `events`), `--batch`
 * (the projection runner's, the server's by default) and their `own` options; a throw-away
 * database; a header (title, machine, the options) logged first and heading the figures that
 * `work` returns, printed at the end.
 */
export function runLogBench<K extends string>(
  script: string,
  title: string,
  spec: {
    readonly events: number;
    readonly own: Record<K, OptionSpec>;
    describe(options: Record<K, number>): string;
  },
  work: (options: Record<K | 'events' | 'batch', number>, bench: BenchDatabase) => Promise<string[]>,
): void {
  runBench(script, async () => {
    const options = parseOptions<K | 'events' | 'batch'>(script, {
      events: { env: 'BENCH_EVENTS', fallback: spec.events },
      batch: { env: 'BENCH_BATCH', fallback: DEFAULT_BATCH_SIZE },
      ...spec.own,
    } as Record<K | 'events' | 'batch', OptionSpec>);
    await withBenchDatabase(script.replace(/^bench:/, ''), async (bench) => {
      const out = [
        `${title}, ${new Date().toISOString()}`,
        machine(),
        `events: ${fmt(options.events)}; runner batch: ${options.batch}; ${spec.describe(options)}`,
      ];
      log(out.join('\n'));
      out.push(...(await work(options, bench)));
      process.stdout.write(`${out.join('\n')}\n`);
    });
  });
}
