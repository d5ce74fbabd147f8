/**
 * The composition root: configuration → database → event store → projections → HTTP server.
 * Nothing else in Sluice wires parts together.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Logger, pino } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { PostgresConnectionLeases } from './adapters/connections/postgres-connection-leases.js';
import type { CredentialTables } from './adapters/credentials/postgres-credential-store.js';
import { PostgresCredentialStore } from './adapters/credentials/postgres-credential-store.js';
import {
  PostgresReactionSecrets,
  type ReactionSecretTables,
} from './adapters/credentials/postgres-reaction-secrets.js';
import {
  PostgresSessionTokens,
  type SessionTokenTables,
} from './adapters/credentials/postgres-session-tokens.js';
import { checkReachable, type DatabaseHandle, kyselyOn } from './adapters/database/connect.js';
import { PostgresDefenderStore } from './adapters/defender/postgres-defender-store.js';
import { loadOrCreateCertificate } from './adapters/ftps/certificate.js';
import { FtpsServer } from './adapters/ftps/ftps-server.js';
import { runHook } from './adapters/hooks/run-hook.js';
import { loadOrCreateLogKey, signatureCheck } from './adapters/log-key/log-key.js';
import { createMetrics, type Metrics } from './adapters/metrics/metrics.js';
import { notificationChannels } from './adapters/notify/channels.js';
import { openStorage } from './adapters/open-storage.js';
import { sendFile } from './adapters/outbound-sftp/send-file.js';
import { definitionProblems } from './adapters/outbound-sftp/target.js';
import { Argon2Hasher } from './adapters/passwords/argon2-hasher.js';
import type { ReadModel } from './adapters/readmodel/schema.js';
import { ConnectionRegistry } from './adapters/sftp/connection-registry.js';
import { loadOrCreateHostKeys } from './adapters/sftp/host-keys.js';
import { nativeCryptoLoaded, SftpServer } from './adapters/sftp/ssh-server.js';
import { DiskIntentJournal } from './adapters/storage/intent-journal.js';
import { LocalDisk } from './adapters/storage/local-disk.js';
import { quarantineIn } from './adapters/storage/quarantine.js';
import { TicketCodec } from './adapters/tickets/ticket-codec.js';
import type { LogRoutesOptions } from './api/audit/log-routes.js';
import { readinessCheck } from './api/health/readiness.js';
import { type ApiDependencies, buildServer, type ServerOptions } from './api/server.js';
import { ApplicationService } from './application/applications.js';
import { AuditReads } from './application/audit-reads.js';
import { ensureAdmin } from './application/bootstrap.js';
import { Connections } from './application/connections.js';
import { SignInDefender } from './application/defender.js';
import { deliveryScheduler } from './application/deliveries/scheduler.js';
import { type DeliveryKind, DeliveryWorker, type Effect } from './application/deliveries/worker.js';
import type { IntentNote, Settled } from './application/files/file-intents.js';
import { FileOperations } from './application/files/file-operations.js';
import { flowEffect } from './application/flows/flow-effect.js';
import { FlowService } from './application/flows/flow-service.js';
import { uploadScanEffect } from './application/flows/upload-scan.js';
import { verifyLog } from './application/log-verification.js';
import { notificationEffect } from './application/notifications/notification-effect.js';
import { NotifierService } from './application/notifications/notifier-service.js';
import type { Clock, IdGenerator, LogSigner } from './application/ports.js';
import type { RefusalCounter } from './application/refusals.js';
import { recordServerStarted } from './application/server-lifecycle.js';
import { SessionExpiry } from './application/session-expiry.js';
import { SignInService } from './application/sign-in.js';
import { TreeHeads } from './application/tree-heads.js';
import { UserService } from './application/users.js';
import { type Config, ConfigError, describeConfiguration, loadConfig, withoutCredentials } from './config.js';
import { DELIVERY_STATES } from './domain/deliveries/delivery.js';
import type { EventStore } from './domain/event-store.js';
import { type ReadViews, readViews, viewNames } from './projections/read-views.js';
import { ProjectionRunner } from './projections/runner.js';
import { allProjections } from './projections/views.js';

const version = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

function fail(message: string, code: number): never {
  process.stderr.write(`sluice: ${message}\n`);
  process.exit(code);
}

export interface StartOptions {
  /** Injected time (tests use a fake clock for the 48-hour expiry). */
  readonly clock?: Clock;
  readonly logger?: Logger;
}

export interface RunningSluice {
  readonly address: string;
  readonly instanceId: string;
  readonly logger: Logger;
  readonly runner: ProjectionRunner;
  readonly expiry: SessionExpiry;
  readonly defender: SignInDefender;
  readonly connections: Connections;
  /** The SFTP port actually listened on. */
  readonly sftpPort: number;
  /** Where FTPS listens (null: not served). */
  readonly ftpsPorts: { readonly port: number | null; readonly implicitPort: number | null };
  /** Stops accepting, records ServerStopped, then stops everything it started. */
  stop(reason: string): Promise<void>;
}

/** Starts Sluice with a validated configuration; rejects (after cleaning up) when it cannot. */
export async function startSluice(config: Config, options: StartOptions = {}): Promise<RunningSluice> {
  const instanceId = uuidv7();
  const logger =
    options.logger ??
    pino({
      level: config.logLevel,
      base: { service: 'sluice', instanceId },
      redact: ['req.headers.authorization', 'req.headers.cookie'],
    });
  logger.info({ version, pid: process.pid, dataDir: config.dataDir }, `Sluice ${version} starting`);

  const cleanups: Array<() => Promise<void>> = [];
  const cleanUp = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  /** Runs `task` every `ms` until stop; at stop, once more if asked (what is counted gets recorded). */
  const every = (
    ms: number,
    task: () => Promise<unknown>,
    options: { onError: (error: unknown) => void; onceMoreAtStop?: boolean },
  ) => {
    const timer = setInterval(() => {
      task().catch(options.onError);
    }, ms);
    timer.unref();
    cleanups.push(async () => {
      clearInterval(timer);
      if (options.onceMoreAtStop) await task().catch(() => 0);
    });
  };

  const start: StartContext = { config, logger, onStop: (stop) => cleanups.push(stop), every };

  try {
    const metrics = createMetrics();
    const storage = await openStorage(config, {
      role: 'server',
      poolSize: 20,
      logger,
      onAppended: (_stream, count, seconds) => {
        metrics.eventsAppended.inc(count);
        metrics.appendSeconds.observe(seconds);
      },
    });
    cleanups.push(() => storage.close());
    const { database, store } = storage;
    // Read before anything is recorded: a log key that cannot be read stops the start.
    const logKey = await loadOrCreateLogKey(config.logKeyFile);
    logger.info(
      { file: config.logKeyFile, keyId: logKey.signer.keyId, created: logKey.created },
      `log key: Ed25519 ${logKey.signer.keyId} in ${config.logKeyFile}${logKey.created ? ' (made now)' : ''}`,
    );
    if (logKey.exposed)
      logger.warn(`the log key ${config.logKeyFile} can be read by others than its owner: chmod 600 it`);

    const refused: RefusalCounter = (reason) => metrics.refusals.inc({ reason });

    const clock = options.clock ?? { now: () => new Date() };
    const ids: IdGenerator = { uuid: uuidv7 };
    const { runner, views } = await startViews(start, { store, database, ids, metrics });

    const serverRun = await recordServerStarted(
      { store, clock, ids },
      {
        instanceId,
        version,
        hostname: os.hostname(),
        pid: process.pid,
        eventStore: config.eventStoreUrl === undefined ? 'postgres' : 'kurrentdb',
        configuration: describeConfiguration(config),
      },
    );
    const log = startTreeHeads(start, { store, clock, ids, views, signer: logKey.signer });
    const { users, applications, defender, signIn, expiry } = await startSignIn(start, {
      store,
      database,
      clock,
      ids,
      views,
      metrics,
    });

    const { files, disk } = await startFileCore(start, { store, clock, ids, views, metrics, refused });
    const { flows, notifiers } = startDeliveries(start, {
      database,
      store,
      clock,
      ids,
      views,
      users,
      files,
      disk,
      metrics,
    });

    const { closeApi, address } = await startHttp(start, {
      database,
      store,
      metrics,
      runner,
      views,
      core: {
        signIn,
        defender,
        users,
        applications,
        userDirectory: { list: views.listUsers },
        applicationDirectory: { list: views.listApplications },
        waitForPosition: (position: number, timeoutMs: number) => views.waitForPosition(position, timeoutMs),
        files,
        maxUploadBytes: config.maxUploadBytes,
        auditStreamsPerUser: config.limits.auditStreamsPerUser,
        auditStreams: config.limits.auditStreams,
        knownDigest: views.fileDigest,
        log,
        flows: { flows, views },
        notifiers: { notifiers, views },
        views: {
          db: views.db,
          auditReads: new AuditReads(store),
          auditPosition: () => views.position(viewNames.audit),
          waitForAudit: (position: number, timeoutMs: number) =>
            views.waitForPosition(position, timeoutMs, viewNames.audit),
        },
      },
    });
    const { connections, sftpPort, ftpsPorts } = await startFileProtocols(start, {
      instanceId,
      database,
      store,
      clock,
      ids,
      signIn,
      files,
      refused,
      metrics,
    });
    logger.info(
      `data: ${config.dataDir} (files in ${config.filesDir}, staged uploads in ${path.join(config.dataDir, 'uploads')})`,
    );

    let stopped: Promise<void> | undefined;
    const stop = (reason: string) => {
      stopped ??= (async () => {
        logger.info(`${reason}: shutting down`);
        // The API first, so nothing new starts while ServerStopped is recorded.
        await closeApi();
        await serverRun
          .stopped(reason)
          .catch((error: unknown) => logger.error({ err: error }, 'could not record ServerStopped'));
        await cleanUp();
        logger.info('stopped');
      })();
      return stopped;
    };
    return {
      address,
      instanceId,
      logger,
      runner,
      expiry,
      defender,
      connections,
      sftpPort,
      ftpsPorts,
      stop,
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

/**
 * Start step: the projection runner over every view (the reactions among them schedule
 * deliveries through the event store), started so the views catch up in the background, and
 * the views' read port.
 */
async function startViews(
  start: StartContext,
  deps: { store: EventStore; database: DatabaseHandle<ReadModel>; ids: IdGenerator; metrics: Metrics },
): Promise<{ runner: ProjectionRunner; views: ReadViews }> {
  const { store, database, ids, metrics } = deps;
  const runner = new ProjectionRunner({
    store,
    db: database.db,
    projections: allProjections({ scheduler: deliveryScheduler(store, ids) }),
    logger: start.logger.child({ component: 'projections' }),
    onBatch: ({ name, events, seconds, position }) => {
      metrics.projectionEvents.inc({ projection: name }, events);
      metrics.projectionBatchSeconds.observe({ projection: name }, seconds);
      metrics.projectionPosition.set({ projection: name }, position);
    },
  });
  await runner.start();
  start.onStop(() => runner.stop());
  return { runner, views: readViews(database.db, runner, store) };
}

/**
 * Start step: tamper evidence: signed tree heads (every MFT_TREE_HEAD_INTERVAL_SECONDS when
 * something was recorded, and on demand), proofs and verification, as the API serves them.
 */
function startTreeHeads(
  start: StartContext,
  deps: { store: EventStore; clock: Clock; ids: IdGenerator; views: ReadViews; signer: LogSigner },
): LogRoutesOptions {
  const { config, logger } = start;
  const { store, clock, ids, views, signer } = deps;
  const waitForTree = (position: number, timeoutMs: number) =>
    views.waitForPosition(position, timeoutMs, viewNames.merkle);
  const treeHeads = new TreeHeads({ store, clock, ids, signer, tree: views.currentTree, waitForTree });
  if (config.treeHeadIntervalMs !== null) {
    start.every(config.treeHeadIntervalMs, () => treeHeads.signIfChanged(), {
      onError: (error) => logger.error({ err: error }, 'could not sign a tree head'),
    });
  }
  return {
    treeHeads,
    logKey: signer,
    inclusionProof: views.inclusionProof,
    consistencyProof: views.consistencyProof,
    verify: () =>
      verifyLog({
        store,
        viewLeaves: views.storedLeaves,
        viewPosition: async () => views.position(viewNames.merkle),
        checkSignature: signatureCheck([signer.publicKeyPem]),
      }),
    waitForTree,
  };
}

/**
 * Start step: the HTTP API (health, readiness, metrics, /api/v1, the console), listening;
 * closed at stop.
 */
async function startHttp(
  start: StartContext,
  deps: {
    database: DatabaseHandle<ReadModel>;
    store: EventStore;
    metrics: Metrics;
    runner: ProjectionRunner;
    views: ReadViews;
    core: NonNullable<ApiDependencies['core']>;
  },
): Promise<{ closeApi: () => Promise<void>; address: string }> {
  const { config, logger } = start;
  const { database, store, metrics, runner, views, core } = deps;
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
        const counts = await views.deliveryCounts();
        for (const state of DELIVERY_STATES) metrics.deliveries.set({ state }, counts[state] ?? 0);
      },
      core,
    },
    httpServerOptions(config, logger),
  );
  let closing: Promise<void> | undefined;
  const closeApi = () => {
    closing ??= app.close();
    return closing;
  };
  start.onStop(closeApi);
  const address = await app.listen({ host: config.bindAddress, port: config.httpPort });
  logger.info(
    { address },
    `HTTP API listening on ${address} (OpenAPI at ${address}/openapi.json, docs at ${address}/docs, metrics at ${address}/metrics)`,
  );
  return { closeApi, address };
}

/** The HTTP server's options: its logger, trusted proxies, connection and time limits, TLS. */
function httpServerOptions(config: Config, logger: Logger): ServerOptions {
  return {
    logger: logger.child({ component: 'http' }),
    trustedProxies: config.trustedProxies,
    limits: {
      headersTimeoutMs: config.limits.httpHeadersTimeoutMs,
      requestTimeoutMs: config.limits.httpRequestTimeoutMs,
      idleTimeoutMs: config.limits.httpIdleTimeoutMs,
      keepAliveTimeoutMs: config.limits.httpKeepAliveTimeoutMs,
      maxConnections: config.limits.httpMaxConnections,
      maxConnectionsPerAddress: config.limits.httpMaxConnectionsPerAddress,
      maxRequestsPerSocket: config.limits.httpMaxRequestsPerSocket,
    },
    ...(config.tls
      ? { tls: { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) } }
      : {}),
  };
}

/** What every start step shares: the configuration, the logger, and where it leaves its stops. */
interface StartContext {
  readonly config: Config;
  readonly logger: Logger;
  /** Runs `stop` at stop (in the reverse order of registration), or when the start fails. */
  onStop(stop: () => Promise<void>): void;
  /** Runs `task` every `ms` until stop; at stop, once more if asked (what is counted gets recorded). */
  every(
    ms: number,
    task: () => Promise<unknown>,
    options: { onError: (error: unknown) => void; onceMoreAtStop?: boolean },
  ): void;
}

/**
 * Start step: users, applications, the sign-in defender, session tokens and the sign-in
 * service every front end uses; the "admin" user on first start; session expiry.
 */
async function startSignIn(
  start: StartContext,
  deps: {
    store: EventStore;
    database: DatabaseHandle<ReadModel>;
    clock: Clock;
    ids: IdGenerator;
    views: ReadViews;
    metrics: Metrics;
  },
) {
  const { config, logger } = start;
  const { store, database, clock, ids, views, metrics } = deps;
  const users = new UserService({
    store,
    passwords: new Argon2Hasher(),
    credentials: new PostgresCredentialStore(kyselyOn<CredentialTables>(database.pool)),
    clock,
  });
  const applications = new ApplicationService(store);
  const defender = new SignInDefender({
    store,
    counters: new PostgresDefenderStore(kyselyOn<unknown>(database.pool)),
    clock,
    ids,
    policy: config.defender,
    onBan: (ban) => {
      metrics.signInBans.inc({ scope: ban.scope });
      logger.warn({ scope: ban.scope, key: ban.key, until: ban.until }, 'sign-in ban started');
    },
    onRefused: (scope) => metrics.signInRefusedWhileBanned.inc({ scope }),
    onDelay: (kind, ms) => metrics.signInDelaySeconds.observe({ kind }, ms / 1000),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  });
  start.every(config.defenderSummaryIntervalMs, () => defender.summarize(), {
    onError: (error) => logger.error({ err: error }, 'ban summary failed'),
    onceMoreAtStop: true,
  });
  const tokens = new PostgresSessionTokens(kyselyOn<SessionTokenTables>(database.pool));
  const signIn = new SignInService({
    store,
    users,
    applications,
    clock,
    ids,
    replaceableLifetimeMs: config.sessionLifetimeMs,
    replaceableIdleMs: config.sessionIdleMs,
    defender,
    tokens,
    tickets: config.ticketSecret === undefined ? undefined : new TicketCodec(config.ticketSecret),
    ticketPolicy: {
      maxAgeMs: config.ticketMaxAgeMs,
      clockSkewMs: config.ticketClockSkewMs,
      siteName: config.siteName ?? null,
    },
  });
  const admin = await ensureAdmin(users, config.adminPassword, config.adminEmail, ids);
  if (admin.created) {
    logger.info({ userId: admin.userId }, 'created the "admin" user');
    if (admin.generatedPassword !== null) {
      // Printed once, on the console only: it is in no event and no log line.
      process.stderr.write(
        `\n  First start: the "admin" user's password is ${admin.generatedPassword}\n  (set MFT_ADMIN_PASSWORD to choose it; change it with PATCH /api/v1/users/${admin.userId})\n\n`,
      );
    }
  }
  if (config.ticketSecret === undefined)
    logger.warn('MFT_TICKET_SECRET is not set: ticket sign-ins are refused');
  const expiry = new SessionExpiry({
    store,
    clock,
    ids,
    tokens,
    dueSessions: views.sessionsDueToExpire,
    onError: (error) => logger.error({ err: error }, 'session expiry failed'),
  });
  expiry.start(config.sessionExpiryIntervalMs);
  start.onStop(() => expiry.stop());
  return { users, applications, defender, signIn, expiry };
}

/**
 * Start step: the file-operations core on local disk (MFT_DATA_DIR/files, staged uploads,
 * change intents), after settling what the last stop cut short: recorded changes finished,
 * the rest undone; recorded uploads moved into place, the rest discarded.
 */
async function startFileCore(
  start: StartContext,
  deps: {
    store: EventStore;
    clock: Clock;
    ids: IdGenerator;
    views: ReadViews;
    metrics: Metrics;
    refused: RefusalCounter;
  },
): Promise<{ files: FileOperations; disk: LocalDisk }> {
  const { config, logger } = start;
  const { store, clock, ids, views, metrics, refused } = deps;
  const intentsDir = path.join(config.dataDir, 'intents');
  const disk = new LocalDisk(config.filesDir, path.join(config.dataDir, 'uploads'), intentsDir);
  await disk.prepare();
  start.onStop(() => disk.flush());
  const crashAt = config.testCrashAt;
  if (crashAt !== undefined)
    logger.warn(`MFT_TEST_CRASH_AT=${crashAt}: this process kills itself there (tests only)`);
  const files = new FileOperations({
    storage: disk,
    journal: new DiskIntentJournal(intentsDir),
    // Test only: stops the process as abruptly as kill -9 at one step of a file change.
    crashAt:
      crashAt === undefined
        ? undefined
        : (point) => {
            if (point === crashAt) process.kill(process.pid, 'SIGKILL');
          },
    store,
    clock,
    ids,
    limits: {
      maxFileBytes: config.limits.maxFileBytes,
      maxWriteGapBytes: config.limits.maxWriteGapBytes,
      quotaBytes: config.limits.userQuotaBytes,
      storedBytes: views.storedBytes,
    },
    refused,
    readBack: (bytes) => metrics.uploadReadBackBytes.inc(bytes),
    knownDigest: views.fileDigest,
  });
  const logSettled = (cause: string) => (note: IntentNote, settled: Settled) =>
    logger.warn(
      { intentId: note.intentId, change: note.change, ...settled },
      `a ${note.change.kind} ${cause} was ${settled.outcome}`,
    );
  const changes = await files.recoverChanges(logSettled('cut short by the last stop'));
  if (changes.finished + changes.undone > 0)
    logger.warn(changes, 'file changes cut short by the last stop: recorded ones finished, the rest undone');
  // Changes whose event could not be appended (the database away) are settled once it answers.
  start.every(5000, () => files.retryUnsettledChanges(logSettled('whose event could not be appended')), {
    onError: (error) => logger.warn({ err: error }, 'file changes still unsettled'),
  });
  const recovered = await files.recoverUploads();
  if (recovered.finished + recovered.discarded > 0) {
    logger.warn(recovered, 'uploads cut short by the last stop: recorded ones finished, the rest discarded');
  }

  return { files, disk };
}

/**
 * Start step: flows and their deliveries (docs/flows.md): the flow service for the API, and
 * the worker that performs due deliveries (flow transfers, scans of uploads) until stop.
 */
function startDeliveries(
  start: StartContext,
  deps: {
    database: DatabaseHandle<ReadModel>;
    store: EventStore;
    clock: Clock;
    ids: IdGenerator;
    views: ReadViews;
    users: UserService;
    files: FileOperations;
    disk: LocalDisk;
    metrics: Metrics;
  },
): { flows: FlowService; notifiers: NotifierService } {
  const { config, logger } = start;
  const { database, store, clock, ids, views, users, files, disk, metrics } = deps;
  const secrets = new PostgresReactionSecrets(kyselyOn<ReactionSecretTables>(database.pool));
  const effects: Partial<Record<DeliveryKind, Effect>> = {
    flow: flowEffect({
      files,
      storage: disk,
      users,
      secrets,
      flows: { definition: views.flowDefinition },
      outbound: {
        send: (target, source, remoteName, options) => sendFile(target, source, remoteName, options),
      },
    }),
  };
  const channels = notificationChannels({
    smtpUrl: config.smtpUrl,
    smtpFrom: config.smtpFrom,
    ...(config.smtpCaFile === undefined ? {} : { smtpCa: readFileSync(config.smtpCaFile, 'utf8') }),
    ...(config.syslogCaFile === undefined ? {} : { syslogCa: readFileSync(config.syslogCaFile, 'utf8') }),
    timeoutMs: 30_000,
  });
  start.onStop(() => channels.close());
  effects.notification = notificationEffect({
    store,
    notifiers: { definition: views.notifierDefinition },
    secrets,
    channels,
  });
  if (config.uploadScan !== null)
    effects.scan = uploadScanEffect({
      files,
      storage: disk,
      users,
      scan: config.uploadScan,
      runHook,
      quarantine: quarantineIn(path.join(config.dataDir, 'quarantine')),
    });
  const worker = new DeliveryWorker({
    store,
    db: database.db,
    clock,
    ids,
    effects,
    policy: config.deliveries.retry,
    leaseMs: config.deliveries.leaseMs,
    pollMs: config.deliveries.pollMs,
    view: {
      position: () => views.position(viewNames.deliveries),
      waitBeyond: (position, timeoutMs) =>
        views.waitForPosition(position + 1, timeoutMs, viewNames.deliveries),
    },
    concurrency: config.deliveries.concurrency,
    logger: logger.child({ component: 'deliveries' }),
    onAttempt: (kind, outcome) => metrics.deliveryAttempts.inc({ kind, outcome }),
  });
  worker.start();
  start.onStop(() => worker.stop());
  const scan = config.uploadScan;
  logger.info(
    `flows and notifications: ${config.deliveries.concurrency} deliveries at once, retried up to ${config.deliveries.retry.maxAttempts} times; ` +
      `upload scan ${scan === null ? 'off' : scan.kind === 'command' ? `by ${scan.command}` : `by ${withoutCredentials(scan.url)}`}` +
      ` (rejected files to ${path.join(config.dataDir, 'quarantine')}); e-mail ${config.smtpUrl === null ? 'off (MFT_SMTP_URL unset)' : `through ${withoutCredentials(config.smtpUrl)}`}`,
  );
  return {
    flows: new FlowService({ store, ids, secrets, users, outboundProblems: definitionProblems }),
    notifiers: new NotifierService({ store, ids, secrets, emailConfigured: config.smtpUrl !== null }),
  };
}

/**
 * Start step: the SFTP and FTPS listeners, with what they share: the instance's connection
 * leases, the registry that cuts connections whose session or user ends, the records of
 * connections and their attempts, and the same bounds before sign-in.
 */
async function startFileProtocols(
  start: StartContext,
  deps: {
    instanceId: string;
    database: DatabaseHandle<ReadModel>;
    store: EventStore;
    clock: Clock;
    ids: IdGenerator;
    signIn: SignInService;
    files: FileOperations;
    refused: RefusalCounter;
    metrics: Metrics;
  },
): Promise<{ connections: Connections; sftpPort: number; ftpsPorts: RunningSluice['ftpsPorts'] }> {
  const { config, logger } = start;
  const { instanceId, database, store, clock, ids, signIn, files, refused, metrics } = deps;
  const leases = new PostgresConnectionLeases(
    kyselyOn<unknown>(database.pool),
    instanceId,
    { renewMs: config.instanceLeaseMs / 3, ttlMs: config.instanceLeaseMs },
    (error) => logger.error({ err: error }, 'could not renew the instance lease'),
  );
  await leases.start();
  start.onStop(() => leases.stop());
  const registry = new ConnectionRegistry();
  await registry.follow(store, (error) => logger.error({ err: error }, 'session-end follower failed'));
  start.onStop(() => registry.stop());
  const hostKeys = await loadOrCreateHostKeys(config.dataDir);
  const connections = new Connections({ store, clock, ids });
  // Its stop comes after the SFTP server's (cleanups run in reverse): the last counts are kept.
  start.every(config.defenderSummaryIntervalMs, () => connections.summarize(), {
    onError: (error) => logger.error({ err: error }, 'summary of connection attempts failed'),
    onceMoreAtStop: true,
  });
  // The same bounds for SSH and FTPS connections before sign-in (each protocol counted apart).
  const preAuth = {
    authTimeoutMs: config.limits.sshAuthTimeoutMs,
    maxTotal: config.limits.sshMaxUnauthenticated,
    maxPerAddress: config.limits.sshMaxUnauthenticatedPerAddress,
  };
  const protocolDeps = { signIn, files, registry, connections, leases, ids, refused };
  const sftp = new SftpServer(
    {
      host: config.bindAddress,
      port: config.sftpPort,
      hostKeys,
      maxConnectionsPerUser: config.sftpMaxConnectionsPerUser,
      maxHandlesPerConnection: config.sftpMaxHandlesPerConnection,
      preAuth,
    },
    { ...protocolDeps, logger: logger.child({ component: 'sftp' }) },
  );
  const sftpAddress = await sftp.listen();
  start.onStop(() => sftp.close());
  logger.info(
    {
      hostKeys: hostKeys.map((k) => ({ type: k.type, fingerprint: k.fingerprint })),
      nativeCrypto: nativeCryptoLoaded(),
    },
    `SFTP listening on ${sftpAddress.host}:${sftpAddress.port}; host keys ${hostKeys.map((k) => `${k.type} ${k.fingerprint}`).join(', ')}; ssh2 native crypto ${nativeCryptoLoaded() ? 'loaded' : 'NOT loaded (slower ciphers)'}`,
  );
  let ftpsPorts: RunningSluice['ftpsPorts'] = { port: null, implicitPort: null };
  if (config.ftps.port !== null || config.ftps.implicitPort !== null) {
    const certificate = await loadOrCreateCertificate(config.dataDir, config.ftps.tls);
    const ftps = new FtpsServer(
      {
        host: config.bindAddress,
        port: config.ftps.port,
        implicitPort: config.ftps.implicitPort,
        passivePorts: config.ftps.passivePorts,
        passiveAddress: config.ftps.passiveAddress,
        certificate,
        maxConnectionsPerUser: config.sftpMaxConnectionsPerUser,
        preAuth,
      },
      {
        ...protocolDeps,
        logger: logger.child({ component: 'ftps' }),
        onDataConnection: (resumed) => metrics.ftpsDataConnections.inc({ tls_resumed: String(resumed) }),
      },
    );
    ftpsPorts = await ftps.listen();
    start.onStop(() => ftps.close());
    const passive = config.ftps.passivePorts
      ? `${config.ftps.passivePorts.from}-${config.ftps.passivePorts.to}`
      : 'any free port';
    logger.info(
      { certificate: certificate.certFile, fingerprint: certificate.fingerprint },
      `FTPS listening on ${config.bindAddress}: explicit (AUTH TLS) ${ftpsPorts.port ?? 'off'}, implicit ${ftpsPorts.implicitPort ?? 'off'}; passive ports ${passive}, announced as ${config.ftps.passiveAddress ?? 'the address the client reached'}; certificate ${certificate.certFile}${certificate.generated ? ' (self-signed, made now)' : ''} SHA-256 ${certificate.fingerprint}`,
    );
  } else {
    logger.info('FTPS is off (MFT_FTPS_PORT=0 and MFT_FTPS_IMPLICIT_PORT=0)');
  }
  return { connections, sftpPort: sftpAddress.port, ftpsPorts };
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) fail(`invalid configuration: ${error.message}`, 2);
    throw error;
  }
  // Signals are handled from the start: one that arrives during start-up stops Sluice as
  // soon as it is up, in the same orderly way.
  let requested: string | undefined;
  let running: RunningSluice | undefined;
  const onSignal = (signal: string) => {
    if (requested !== undefined) {
      process.stderr.write(`sluice: ${signal} again: exiting without finishing the shutdown\n`);
      process.exit(1);
    }
    requested = signal;
    if (running) void running.stop(signal).then(() => process.exit(0));
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  try {
    running = await startSluice(config);
  } catch (error) {
    fail(`cannot start: ${error instanceof Error ? error.message : String(error)}`, 1);
  }
  running.logger.info('Sluice is ready');
  if (requested !== undefined) await running.stop(requested).then(() => process.exit(0));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
