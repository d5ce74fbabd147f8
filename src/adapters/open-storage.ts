/**
 * Where Sluice keeps its state, opened one way for the server (main.ts) and the command-line
 * tools (src/cli/): the PostgreSQL database — the embedded one, or an external one
 * (`DATABASE_URL`) — and the event store — PostgreSQL's `events` table in that database, or
 * KurrentDB (`EVENTSTORE_URL`).
 *
 * - As the server (`role: 'server'`): starts the embedded PostgreSQL when there is no
 *   `DATABASE_URL`, and brings every schema up to date (event store, read model, credentials).
 * - As a tool (`role: 'tool'`): connects to the database of the server running on this
 *   machine (127.0.0.1:`MFT_PG_PORT`, the password in `MFT_DATA_DIR/pg-password`), or to
 *   `DATABASE_URL`; it starts nothing and changes no schema.
 *
 * A failure on the way closes what was opened. KurrentDB out of reach fails within 10 s, in one
 * line without its password.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type Config, ConfigError } from '../config.js';
import type { EventStore } from '../domain/event-store.js';
import { credentialMigrations } from './credentials/migrations/index.js';
import {
  checkReachable,
  type DatabaseHandle,
  describeDatabaseUrl,
  openDatabase,
} from './database/connect.js';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './database/embedded-postgres.js';
import { migrate } from './database/migrate.js';
import { describeEventStoreUrl } from './eventstore/kurrentdb/connection.js';
import { openKurrentDbEventStore } from './eventstore/kurrentdb/kurrentdb-event-store.js';
import { AppendNotifier } from './eventstore/postgres/append-notifier.js';
import { eventStoreMigrations } from './eventstore/postgres/migrations/index.js';
import { PostgresEventStore } from './eventstore/postgres/postgres-event-store.js';
import { readModelMigrations } from './readmodel/migrations/index.js';
import type { ReadModel } from './readmodel/schema.js';

export interface StorageLogger {
  info(obj: object, msg: string): void;
  info(msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
  child(bindings: object): StorageLogger;
}

export interface StorageOptions {
  readonly role: 'server' | 'tool';
  /** Connections in the pool. */
  readonly poolSize: number;
  /** The server's logger: where things are, said once each. */
  readonly logger?: StorageLogger;
  /** Observes each committed append (metrics). */
  readonly onAppended?: (streamId: string, count: number, seconds: number) => void;
}

export interface OpenedStorage {
  readonly database: DatabaseHandle<ReadModel>;
  readonly store: EventStore;
  /** The embedded PostgreSQL this process started, if it did. */
  readonly embedded: EmbeddedPostgres | undefined;
  /** Where the database and the events are, without credentials. */
  readonly description: string;
  /** Closes the event store and the pool, then stops the embedded PostgreSQL if started here. */
  close(): Promise<void>;
}

/** The connection string of the embedded database of a server running on this machine. */
export function runningServerDatabaseUrl(config: Config): string {
  const passwordFile = path.join(config.dataDir, 'pg-password');
  let password: string;
  try {
    password = readFileSync(passwordFile, 'utf8').trim();
  } catch {
    throw new ConfigError(
      'MFT_DATA_DIR',
      `${passwordFile} (the embedded database's password) is not there and DATABASE_URL is not set; set DATABASE_URL, or MFT_DATA_DIR to the running server's data dir`,
    );
  }
  return `postgres://sluice:${encodeURIComponent(password)}@127.0.0.1:${config.embeddedPgPort}/sluice`;
}

export async function openStorage(config: Config, options: StorageOptions): Promise<OpenedStorage> {
  const { role, logger } = options;
  const closing: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const step of closing.reverse()) await step().catch(() => undefined);
  };
  try {
    let embedded: EmbeddedPostgres | undefined;
    let url = config.databaseUrl;
    if (url === undefined && role === 'server') {
      const started = await startEmbeddedPostgres({
        dataDir: config.dataDir,
        port: config.embeddedPgPort,
        database: 'sluice',
        onLog: (line) => logger?.debug({ component: 'postgres' }, line),
      });
      embedded = started;
      closing.push(() => started.stop());
      url = started.url;
      logger?.info(
        { clusterDir: started.clusterDir, port: started.port, settings: started.settings },
        `database: embedded PostgreSQL in ${started.clusterDir}, listening on 127.0.0.1:${started.port} (shared_buffers ${started.settings.shared_buffers})`,
      );
    } else if (url === undefined) {
      url = runningServerDatabaseUrl(config);
    } else {
      logger?.info(`database: external PostgreSQL at ${describeDatabaseUrl(url)}`);
    }

    const database = openDatabase<ReadModel>(url, { max: options.poolSize });
    closing.push(() => database.db.destroy());
    await checkReachable(database);
    const kurrent = config.eventStoreUrl;
    if (role === 'server') {
      if (kurrent === undefined)
        await migrate(database.db, { name: 'eventstore', migrations: eventStoreMigrations });
      await migrate(database.db, { name: 'readmodel', migrations: readModelMigrations });
      await migrate(database.db, { name: 'credentials', migrations: credentialMigrations });
    }

    const onAppended = options.onAppended ? { onAppended: options.onAppended } : {};
    let store: EventStore;
    if (kurrent === undefined) {
      const notifier = new AppendNotifier(url, logger?.child({ component: 'event-store' }));
      store = new PostgresEventStore({ db: database.db, notifier, ...onAppended });
      logger?.info('event store: PostgreSQL (table "events"); read model: PostgreSQL (same database)');
    } else {
      store = await openKurrentDbEventStore(kurrent, {
        ...onAppended,
        ...(logger ? { logger: logger.child({ component: 'event-store' }) } : {}),
      });
      logger?.info(
        `event store: KurrentDB at ${describeEventStoreUrl(kurrent)}; read model, credentials and checkpoints: PostgreSQL`,
      );
    }
    closing.push(() => store.close());
    const from = kurrent === undefined ? '' : ` (events from KurrentDB at ${describeEventStoreUrl(kurrent)})`;
    return { database, store, embedded, description: `${describeDatabaseUrl(url)}${from}`, close };
  } catch (error) {
    await close();
    throw error;
  }
}
