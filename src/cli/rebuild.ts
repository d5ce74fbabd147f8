/**
 * `npm run rebuild -- <view> [--batch-size=N]`: rebuilds one view from position 0 while Sluice
 * keeps running (src/projections/rebuild.ts: replay into scratch tables, then one atomic swap;
 * queries see the old rows until the swap and the rebuilt ones after it).
 * The database and event store are found as the server finds them (cli/connection.ts).
 *
 * Progress goes to stderr; the last line says where the view now stands. Exit status 0 when
 * rebuilt, 1 when the rebuild failed (nothing changed), 2 on a usage or configuration error.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { v7 as uuidv7 } from 'uuid';
import { deliveryScheduler } from '../application/deliveries/scheduler.js';
import type { EventStore } from '../domain/event-store.js';
import type { Projection } from '../projections/projection.js';
import { rebuildProjection } from '../projections/rebuild.js';
import { allProjections } from '../projections/views.js';
import { batchSizeOption, cliDatabaseUrl, cliMain, openCliStores, UsageError } from './connection.js';

/** Every view that can be rebuilt, by its projection name; reactions schedule through `store`. */
function rebuildableViews(store: EventStore): ReadonlyMap<string, Projection> {
  const scheduler = deliveryScheduler(store, { uuid: uuidv7 });
  return new Map(allProjections({ scheduler }).map((p) => [p.name, p]));
}

const VIEW_NAMES =
  'server_instances, users, applications, sessions, audit, files, merkle, deliveries, flows, notifiers';
const USAGE = `usage: npm run rebuild -- <view> [--batch-size=N]   (views: ${VIEW_NAMES})`;

/** The connection string (kept under this name for the tests that use it). */
export const rebuildDatabaseUrl = cliDatabaseUrl;

export async function runRebuild(argv: readonly string[], env: Readonly<Record<string, string | undefined>>) {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: { 'batch-size': { type: 'string' } },
    strict: true,
    allowPositionals: true,
  });
  const [name, ...extra] = positionals;
  if (name === undefined || extra.length > 0) throw new UsageError(USAGE);
  if (!VIEW_NAMES.split(', ').includes(name)) throw new UsageError(`unknown view "${name}"; ${USAGE}`);
  const batchSize = batchSizeOption(values['batch-size']);

  const { db, store, description, close } = await openCliStores(env, { max: 4 });
  try {
    const projection = rebuildableViews(store).get(name);
    if (!projection) throw new UsageError(`unknown view "${name}"; ${USAGE}`);
    process.stderr.write(`rebuild: ${name} from position 0 on ${description}\n`);
    const log = (level: string) => (obj: object, msg: string) =>
      process.stderr.write(
        `rebuild: ${level} ${msg} ${JSON.stringify(obj, (_k, v) => (v instanceof Error ? v.message : v))}\n`,
      );
    const started = Date.now();
    const position = await rebuildProjection({
      store,
      db,
      projection,
      batchSize,
      logger: { info: log('info'), warn: log('warn') },
    });
    const seconds = (Date.now() - started) / 1000;
    process.stderr.write(`rebuild: ${name} rebuilt up to position ${position} in ${seconds.toFixed(1)} s\n`);
    return position;
  } finally {
    await close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await cliMain('rebuild', async () => {
    await runRebuild(process.argv.slice(2), process.env);
    return 0;
  });
}
