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
import type { Kysely } from 'kysely';
import { openStorage, runningServerDatabaseUrl } from '../adapters/open-storage.js';
import type { ReadModel } from '../adapters/readmodel/schema.js';
import { ConfigError, loadConfig } from '../config.js';
import type { EventStore } from '../domain/event-store.js';

type Env = Readonly<Record<string, string | undefined>>;

/** A wrong argument or setting: exit status 2, the message alone. */
export class UsageError extends Error {}

/** The connection string: DATABASE_URL, or the embedded server's from its data dir and port. */
export function cliDatabaseUrl(env: Env): string {
  const config = loadConfig(env);
  return config.databaseUrl ?? runningServerDatabaseUrl(config);
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

/** Opens the read model and the event store as a tool beside the server (adapters/open-storage.ts). */
export async function openCliStores(env: Env, options: { max: number }): Promise<CliStores> {
  const storage = await openStorage(loadConfig(env), { role: 'tool', poolSize: options.max });
  return {
    db: storage.database.db,
    store: storage.store,
    description: storage.description,
    close: storage.close,
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
