/**
 * What the command-line tools that work beside a running Sluice share (`npm run rebuild`,
 * `npm run verify`): which database and which event store they open, found as the server finds
 * them, and how they end.
 *
 * Which database: `DATABASE_URL` when set (the server's external PostgreSQL). Otherwise the
 * embedded one of a server running on this machine: 127.0.0.1:`MFT_PG_PORT` (default 54329),
 * user and database `sluice`, the password in `MFT_DATA_DIR/pg-password` (default ./data). The
 * embedded PostgreSQL runs only while its Sluice server runs; these commands do not start it.
 * Which event store: KurrentDB when `EVENTSTORE_URL` is set (as for the server), else the
 * PostgreSQL one in that database.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { checkReachable, describeDatabaseUrl, openDatabase } from '../adapters/database/connect.js';
import { describeEventStoreUrl } from '../adapters/eventstore/kurrentdb/connection.js';
import { openKurrentDbEventStore } from '../adapters/eventstore/kurrentdb/kurrentdb-event-store.js';
import { AppendNotifier } from '../adapters/eventstore/postgres/append-notifier.js';
import { PostgresEventStore } from '../adapters/eventstore/postgres/postgres-event-store.js';
import type { ReadModel } from '../adapters/readmodel/schema.js';
import { ConfigError, loadConfig } from '../config.js';
import type { EventStore } from '../domain/event-store.js';

type Env = Readonly<Record<string, string | undefined>>;

/** A wrong argument or setting: exit status 2, the message alone. */
export class UsageError extends Error {}

/** The connection string: DATABASE_URL, or the embedded server's from its data dir and port. */
export function cliDatabaseUrl(env: Env): string {
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

/** `--batch-size`: events per read (and per transaction), 1 to 10,000; default 5,000. */
export function batchSizeOption(text: string | undefined): number {
  const batchText = text ?? '5000';
  const batchSize = Number(batchText);
  if (!/^\d+$/.test(batchText) || batchSize < 1 || batchSize > 10_000) {
    throw new UsageError('--batch-size must be a whole number from 1 to 10000');
  }
  return batchSize;
}

export interface CliStores {
  readonly db: Kysely<ReadModel>;
  readonly store: EventStore;
  /** Where they are, without credentials, for the first line a tool prints. */
  readonly description: string;
  close(): Promise<void>;
}

/** Opens the read model and the event store; KurrentDB out of reach fails within 10 s, in one line. */
export async function openCliStores(env: Env, options: { max: number }): Promise<CliStores> {
  const url = cliDatabaseUrl(env);
  const eventStoreUrl = loadConfig(env).eventStoreUrl;
  const database = openDatabase<ReadModel>(url, { max: options.max });
  let store: EventStore;
  try {
    await checkReachable(database);
    store =
      eventStoreUrl === undefined
        ? new PostgresEventStore({ db: database.db, notifier: new AppendNotifier(url) })
        : await openKurrentDbEventStore(eventStoreUrl);
  } catch (error) {
    await database.db.destroy();
    throw error;
  }
  const from =
    eventStoreUrl === undefined ? '' : ` (events from KurrentDB at ${describeEventStoreUrl(eventStoreUrl)})`;
  return {
    db: database.db,
    store,
    description: `${describeDatabaseUrl(url)}${from}`,
    async close() {
      await store.close();
      await database.db.destroy();
    },
  };
}

/**
 * Runs a tool and exits with the status it resolves with; on an error, prints one line
 * (`<name>: <message>` for usage and configuration errors, exit 2; `<name>: failed: <message>`
 * otherwise, exit `failureStatus`).
 */
export async function cliMain(name: string, run: () => Promise<number>, failureStatus = 1): Promise<never> {
  try {
    process.exit(await run());
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const usage =
      error instanceof UsageError ||
      error instanceof ConfigError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`${name}: ${usage ? '' : 'failed: '}${message}\n`);
    process.exit(usage ? 2 : failureStatus);
  }
}
