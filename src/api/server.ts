/**
 * The HTTP server: fastify with pino logging, TypeBox schemas (validation, types and OpenAPI
 * from one source), problem+json errors, then one plugin per area.
 */

import type { ServerOptions as NodeServerOptions } from 'node:http';
import type net from 'node:net';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Metrics } from '../adapters/metrics/metrics.js';
import { AddressList } from '../application/address-list.js';
import type { ApplicationService } from '../application/applications.js';
import type { SignInDefender } from '../application/defender.js';
import type { FileOperations } from '../application/files/file-operations.js';
import type { SignInService } from '../application/sign-in.js';
import type { UserService } from '../application/users.js';
import type { ApplicationDirectory } from './applications/routes.js';
import type { ViewDependencies } from './audit/access.js';
import type { LogRoutesOptions } from './audit/log-routes.js';
import { principalPlugin, requestId } from './auth.js';
import { consoleRoutes } from './console/plugin.js';
import type { NotifierRoutesOptions } from './flows/notifier-routes.js';
import type { FlowRoutesOptions } from './flows/routes.js';
import { healthRoutes } from './health/routes.js';
import type { Readiness } from './health/schemas.js';
import { metricsPlugin } from './plugins/metrics.js';
import { openApiPlugin } from './plugins/openapi.js';
import { hstsPlugin, TLS_SERVER_OPTIONS } from './plugins/transport-security.js';
import { frameworkProblem, problemsPlugin } from './problems.js';
import type { UserDirectory } from './users/routes.js';
import { apiV1 } from './v1.js';

export interface ApiDependencies {
  readonly version: string;
  readonly metrics: Metrics;
  readonly readiness: () => Promise<Readiness>;
  readonly beforeMetricsScrape?: () => Promise<void>;
  /** The sign-in, user and application areas; absent in tests of the shell alone. */
  readonly core?: {
    /** The file-operations core the HTTP file API shares with SFTP. */
    readonly files: FileOperations;
    readonly maxUploadBytes: number;
    /** The files view's size and sha256 of a file, for ETag. */
    readonly knownDigest?: (
      userId: number,
      path: string,
    ) => Promise<{ size: number; sha256: string } | undefined>;
    readonly signIn: SignInService;
    readonly defender: SignInDefender;
    readonly users: UserService;
    readonly userDirectory: UserDirectory;
    readonly applications: ApplicationService;
    readonly applicationDirectory: ApplicationDirectory;
    /** Read-your-writes for queries of the views (the projection runner's waitForPosition). */
    readonly waitForPosition: (position: number, timeoutMs: number) => Promise<boolean>;
    /** The session and audit views (read model, audit-read recording, the audit view's progress). */
    readonly views?: ViewDependencies;
    /** Live audit streams one user may hold at once (default 5). */
    readonly auditStreamsPerUser?: number;
    /** Live audit streams this process serves at once. */
    readonly auditStreams?: number;
    /** Tamper evidence: the log key, tree heads, proofs, verification. */
    readonly log?: LogRoutesOptions;
    /** Flows and their deliveries (docs/flows.md). */
    readonly flows?: Omit<FlowRoutesOptions, 'waitForPosition'>;
    /** Notifiers (webhooks, e-mail, syslog). */
    readonly notifiers?: Omit<NotifierRoutesOptions, 'waitForPosition'>;
  };
}

/** Bounds on HTTP connections and the time a client may take to send a request. */
export interface HttpLimits {
  /** To send the request line and headers. */
  readonly headersTimeoutMs: number;
  /** To send the whole request, body included (an upload's body too). */
  readonly requestTimeoutMs: number;
  /** A connection on which nothing moves for this long is closed. */
  readonly idleTimeoutMs: number;
  /** How long an idle keep-alive connection waits for its next request. */
  readonly keepAliveTimeoutMs: number;
  /** Open connections; further ones are closed at once. */
  readonly maxConnections: number;
  /** Open connections from one address (trusted proxies excepted); further ones are closed at once. */
  readonly maxConnectionsPerAddress: number;
  /** Requests on one keep-alive connection (0: no limit). */
  readonly maxRequestsPerSocket: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 3_600_000,
  idleTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 1000,
  maxConnectionsPerAddress: 100,
  maxRequestsPerSocket: 1000,
};

export interface ServerOptions {
  readonly logger: FastifyBaseLogger | false;
  /** PEM key and certificate: serve HTTPS only. */
  readonly tls?: { readonly key: Buffer; readonly cert: Buffer };
  /** Proxies (addresses, CIDR ranges) whose X-Forwarded-For is believed; none by default. */
  readonly trustedProxies?: readonly string[];
  readonly limits?: HttpLimits;
}

export async function buildServer(deps: ApiDependencies, options: ServerOptions): Promise<FastifyInstance> {
  const limits = options.limits ?? DEFAULT_HTTP_LIMITS;
  // Node checks the header and request timeouts every connectionsCheckingInterval (30 s by
  // default): often enough here that a short timeout is kept to within a quarter of itself.
  const nodeOptions: NodeServerOptions = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: Math.max(250, Math.min(30_000, Math.floor(limits.headersTimeoutMs / 4))),
  };
  const app = Fastify({
    ...(options.logger === false ? { logger: false } : { loggerInstance: options.logger }),
    ...(options.tls
      ? { https: { key: options.tls.key, cert: options.tls.cert, ...TLS_SERVER_OPTIONS, ...nodeOptions } }
      : { http: nodeOptions }),
    // The client address comes from the connection; X-Forwarded-For only from named proxies.
    trustProxy:
      options.trustedProxies && options.trustedProxies.length > 0 ? [...options.trustedProxies] : false,
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    maxRequestsPerSocket: limits.maxRequestsPerSocket,
    genReqId: requestId,
    bodyLimit: 1024 * 1024,
    frameworkErrors: frameworkProblem,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: true } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  // Past the cap Node closes a new connection at once and says so with 'drop'.
  app.server.maxConnections = limits.maxConnections;
  app.server.on('drop', () => deps.metrics.refusals.inc({ reason: 'http-connections' }));
  capConnectionsPerAddress(app.server, limits.maxConnectionsPerAddress, options.trustedProxies ?? [], () =>
    deps.metrics.refusals.inc({ reason: 'http-connections-per-address' }),
  );

  await app.register(problemsPlugin);
  if (options.tls) await app.register(hstsPlugin);
  await app.register(openApiPlugin, { version: deps.version });
  await app.register(metricsPlugin, {
    metrics: deps.metrics,
    ...(deps.beforeMetricsScrape ? { beforeScrape: deps.beforeMetricsScrape } : {}),
  });
  await app.register(principalPlugin);
  await app.register(healthRoutes, { version: deps.version, readiness: deps.readiness });
  if (deps.core) {
    await app.register(apiV1, { prefix: '/api/v1', core: deps.core, metrics: deps.metrics });
    // The auditor console: static pages that call /api/v1 with the user's own token.
    await app.register(consoleRoutes);
  }
  return app;
}

/**
 * Closes at once a connection from an address that already holds `max` (slow bodies from one
 * client cannot fill the server); the trusted proxies, which carry everyone's, are exempt.
 */
function capConnectionsPerAddress(
  server: net.Server,
  max: number,
  trustedProxies: readonly string[],
  refused: () => void,
): void {
  const exempt = new AddressList(trustedProxies);
  const open = new Map<string, number>();
  server.on('connection', (socket: net.Socket) => {
    const address = socket.remoteAddress;
    if (address === undefined || exempt.has(address)) return;
    const held = open.get(address) ?? 0;
    if (held >= max) {
      refused();
      socket.destroy();
      return;
    }
    open.set(address, held + 1);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
}
