/**
 * `npm run rebuild -- <view> [--batch-size=N]`: rebuilds one view from position 0 while Sluice
 * keeps running (src/projections/rebuild.ts: replay into scratch tables, then one atomic swap;
 * queries see the old rows until the swap and the rebuilt ones after it).
 *
 * Which database: `DATABASE_URL` when set (the server's external PostgreSQL). Otherwise the
 * embedded one of a server running on this machine: 127.0.0.1:`MFT_PG_PORT` (default 54329),
 * user and database `sluice`, the password in `MFT_DATA_DIR/pg-password` (default ./data). The
 * embedded PostgreSQL runs only while its Sluice server runs; this command does not start it.
 * Which event store: KurrentDB when `EVENTSTORE_URL` is set (as for the server), else the
 * PostgreSQL one in that database.
 *
 * Progress goes to stderr; the last line says where the view now stands. Exit status 0 when
 * rebuilt, 1 when the rebuild failed (nothing changed), 2 on a usage or configuration error.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { checkReachable, describeDatabaseUrl, openDatabase } from '../adapters/database/connect.js';
import { describeEventStoreUrl } from '../adapters/eventstore/kurrentdb/connection.js';
import { openKurrentDbEventStore } from '../adapters/eventstore/kurrentdb/kurrentdb-event-store.js';
import { AppendNotifier } from '../adapters/eventstore/postgres/append-notifier.js';
import { PostgresEventStore } from '../adapters/eventstore/postgres/postgres-event-store.js';
import type { ReadModel } from '../adapters/readmodel/schema.js';
import { ConfigError, loadConfig } from '../config.js';
import type { EventStore } from '../domain/event-store.js';
import type { Projection } from './projection.js';
import { rebuildProjection } from './rebuild.js';
import { allProjections } from './views.js';

/** Every view that can be rebuilt, by its projection name. */
export const rebuildableViews: ReadonlyMap<string, Projection> = new Map(
  allProjections.map((p) => [p.name, p]),
);

const USAGE = `usage: npm run rebuild -- <view> [--batch-size=N]   (views: ${[...rebuildableViews.keys()].join(', ')})`;

class UsageError extends Error {}

/** The connection string: DATABASE_URL, or the embedded server's from its data dir and port. */
export function rebuildDatabaseUrl(env: Readonly<Record<string, string | undefined>>): string {
  const config = loadConfig(env);
  if (config.databaseUrl !== undefined) return config.databaseUrl;
  const passwordFile = path.join(config.dataDir, 'pg-password');
  let password: string;
  try {
    password = readFileSync(passwordFile, 'utf8').trim();
  } catch {
    throw new UsageError(
      `neither DATABASE_URL nor ${passwordFile} (the embedded database's password) is there; set DATABASE_URL, or MFT_DATA_DIR to the running server's data dir`,
    );
  }
  return `postgres://sluice:${encodeURIComponent(password)}@127.0.0.1:${config.embeddedPgPort}/sluice`;
}

export async function runRebuild(argv: readonly string[], env: Readonly<Record<string, string | undefined>>) {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: { 'batch-size': { type: 'string' } },
    strict: true,
    allowPositionals: true,
  });
  const [name, ...extra] = positionals;
  if (name === undefined || extra.length > 0) throw new UsageError(USAGE);
  const projection = rebuildableViews.get(name);
  if (!projection) throw new UsageError(`unknown view "${name}"; ${USAGE}`);
  const batchText = values['batch-size'] ?? '5000';
  const batchSize = Number(batchText);
  if (!/^\d+$/.test(batchText) || batchSize < 1 || batchSize > 10_000) {
    throw new UsageError('--batch-size must be a whole number from 1 to 10000');
  }

  const url = rebuildDatabaseUrl(env);
  const eventStoreUrl = loadConfig(env).eventStoreUrl;
  const database = openDatabase<ReadModel>(url, { max: 4 });
  let store: EventStore | undefined;
  try {
    await checkReachable(database);
    // KurrentDB out of reach: one line within 10 s, the view unchanged.
    store =
      eventStoreUrl === undefined
        ? new PostgresEventStore({ db: database.db, notifier: new AppendNotifier(url) })
        : await openKurrentDbEventStore(eventStoreUrl);
    const from =
      eventStoreUrl === undefined
        ? ''
        : ` (events from KurrentDB at ${describeEventStoreUrl(eventStoreUrl)})`;
    process.stderr.write(`rebuild: ${name} from position 0 on ${describeDatabaseUrl(url)}${from}\n`);
    const log = (level: string) => (obj: object, msg: string) =>
      process.stderr.write(
        `rebuild: ${level} ${msg} ${JSON.stringify(obj, (_k, v) => (v instanceof Error ? v.message : v))}\n`,
      );
    const started = Date.now();
    const position = await rebuildProjection({
      store,
      db: database.db,
      projection,
      batchSize,
      logger: { info: log('info'), warn: log('warn') },
    });
    const seconds = (Date.now() - started) / 1000;
    process.stderr.write(`rebuild: ${name} rebuilt up to position ${position} in ${seconds.toFixed(1)} s\n`);
    return position;
  } finally {
    await store?.close();
    await database.db.destroy();
  }
}

async function main(): Promise<void> {
  try {
    await runRebuild(process.argv.slice(2), process.env);
    process.exit(0);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const usage =
      error instanceof UsageError ||
      error instanceof ConfigError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`rebuild: ${usage ? '' : 'failed: '}${message}\n`);
    process.exit(usage ? 2 : 1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
