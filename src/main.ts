/**
 * The composition root: configuration → database → event store → projections → HTTP server.
 * Nothing else in Sluice wires parts together.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { pino } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { checkReachable, describeDatabaseUrl, openDatabase } from './adapters/database/connect.js';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './adapters/database/embedded-postgres.js';
import { migrate } from './adapters/database/migrate.js';
import { AppendNotifier } from './adapters/eventstore/postgres/append-notifier.js';
import { eventStoreMigrations } from './adapters/eventstore/postgres/migrations/index.js';
import { PostgresEventStore } from './adapters/eventstore/postgres/postgres-event-store.js';
import { createMetrics } from './adapters/metrics/metrics.js';
import { readModelMigrations } from './adapters/readmodel/migrations/index.js';
import type { ReadModel } from './adapters/readmodel/schema.js';
import { readinessCheck } from './api/health/readiness.js';
import { buildServer } from './api/server.js';
import { ConfigError, loadConfig } from './config.js';
import { toNewEvent } from './domain/events/catalogue.js';
import type { EventMetadata } from './domain/events/envelope.js';
import { ProjectionRunner } from './projections/runner.js';
import { serverInstancesProjection } from './projections/server-instances.js';

const version = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

function fail(message: string, code: number): never {
  process.stderr.write(`sluice: ${message}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) fail(`invalid configuration: ${error.message}`, 2);
    throw error;
  }

  const instanceId = uuidv7();
  const logger = pino({
    level: config.logLevel,
    base: { service: 'sluice', instanceId },
    redact: ['req.headers.authorization', 'req.headers.cookie'],
  });
  logger.info({ version, pid: process.pid, dataDir: config.dataDir }, `Sluice ${version} starting`);

  const cleanups: Array<() => Promise<void>> = [];
  const cleanUp = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };

  try {
    let embedded: EmbeddedPostgres | undefined;
    let databaseUrl = config.databaseUrl;
    if (databaseUrl === undefined) {
      embedded = await startEmbeddedPostgres({
        dataDir: config.dataDir,
        port: config.embeddedPgPort,
        database: 'sluice',
        onLog: (line) => logger.debug({ component: 'postgres' }, line),
      });
      cleanups.push(() => embedded!.stop());
      databaseUrl = embedded.url;
      logger.info(
        { clusterDir: embedded.clusterDir, port: embedded.port },
        `database: embedded PostgreSQL in ${embedded.clusterDir}, listening on 127.0.0.1:${embedded.port}`,
      );
    } else {
      logger.info(`database: external PostgreSQL at ${describeDatabaseUrl(databaseUrl)}`);
    }

    const database = openDatabase<ReadModel>(databaseUrl, { max: 20 });
    cleanups.push(() => database.db.destroy());
    await checkReachable(database);
    await migrate(database.db, { name: 'eventstore', migrations: eventStoreMigrations });
    await migrate(database.db, { name: 'readmodel', migrations: readModelMigrations });

    const metrics = createMetrics();
    const notifier = new AppendNotifier(databaseUrl, logger.child({ component: 'event-store' }));
    const store = new PostgresEventStore({
      db: database.db,
      notifier,
      onAppended: (_stream, count, seconds) => {
        metrics.eventsAppended.inc(count);
        metrics.appendSeconds.observe(seconds);
      },
    });
    cleanups.push(() => store.close());
    logger.info('event store: PostgreSQL (table "events"); read model: PostgreSQL (same database)');

    const runner = new ProjectionRunner({
      store,
      db: database.db,
      projections: [serverInstancesProjection],
      logger: logger.child({ component: 'projections' }),
      onBatch: ({ name, events, seconds, position }) => {
        metrics.projectionEvents.inc({ projection: name }, events);
        metrics.projectionBatchSeconds.observe({ projection: name }, seconds);
        metrics.projectionPosition.set({ projection: name }, position);
      },
    });
    await runner.start();
    cleanups.push(() => runner.stop());

    const systemMetadata = (): EventMetadata => ({ envelopeVersion: 1, correlationId: uuidv7(), actor: {} });
    const serverStream = `server-${instanceId}`;
    const started = await store.appendToStream(
      serverStream,
      [
        toNewEvent(
          {
            type: 'ServerStarted',
            data: {
              instanceId,
              version,
              hostname: os.hostname(),
              pid: process.pid,
              eventStore: 'postgres',
              startedAt: new Date().toISOString(),
            },
          },
          systemMetadata(),
        ),
      ],
      { expectedRevision: 'no_stream' },
    );

    const app = await buildServer(
      {
        version,
        metrics,
        readiness: readinessCheck({
          maxLag: config.readyMaxLag,
          pingDatabase: () => checkReachable(database),
          headPosition: () => store.headPosition(),
          projections: () => runner.status(),
        }),
        beforeMetricsScrape: async () => {
          metrics.eventStoreHead.set(await store.headPosition());
        },
      },
      { logger: logger.child({ component: 'http' }) },
    );
    cleanups.push(() => app.close());
    const address = await app.listen({ host: config.bindAddress, port: config.httpPort });
    logger.info(
      { address },
      `HTTP API listening on ${address} (OpenAPI at ${address}/openapi.json, docs at ${address}/docs, metrics at ${address}/metrics)`,
    );
    logger.info(`data: ${config.dataDir} (files will live in ${config.filesDir})`);

    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) {
        logger.warn(`${signal} again: exiting without finishing the shutdown`);
        process.exit(1);
      }
      stopping = true;
      logger.info(`${signal} received: shutting down`);
      await app.close();
      await store
        .appendToStream(
          serverStream,
          [
            toNewEvent(
              {
                type: 'ServerStopped',
                data: { instanceId, reason: signal, stoppedAt: new Date().toISOString() },
              },
              systemMetadata(),
            ),
          ],
          { expectedRevision: started.nextExpectedRevision },
        )
        .catch((error: unknown) => logger.error({ err: error }, 'could not record ServerStopped'));
      cleanups.pop(); // app already closed
      await cleanUp();
      logger.info('stopped');
      process.exit(0);
    };
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('SIGTERM', () => void stop('SIGTERM'));
  } catch (error) {
    logger.debug({ err: error }, 'start-up failed');
    await cleanUp();
    fail(`cannot start: ${error instanceof Error ? error.message : String(error)}`, 1);
  }
}

await main();
