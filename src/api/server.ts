/**
 * The HTTP server: fastify with pino logging, TypeBox schemas (validation, types and OpenAPI
 * from one source), problem+json errors, then one plugin per area.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Metrics } from '../adapters/metrics/metrics.js';
import type { ApplicationService } from '../application/applications.js';
import type { SignInService } from '../application/sign-in.js';
import type { UserService } from '../application/users.js';
import { type ApplicationDirectory, applicationRoutes } from './applications/routes.js';
import { principalPlugin, requestId } from './auth.js';
import { healthRoutes } from './health/routes.js';
import type { Readiness } from './health/schemas.js';
import { metricsPlugin } from './plugins/metrics.js';
import { openApiPlugin } from './plugins/openapi.js';
import { problemsPlugin } from './plugins/problems.js';
import { sessionRoutes } from './sessions/routes.js';
import { type UserDirectory, userRoutes } from './users/routes.js';

export interface ApiDependencies {
  readonly version: string;
  readonly metrics: Metrics;
  readonly readiness: () => Promise<Readiness>;
  readonly beforeMetricsScrape?: () => Promise<void>;
  /** The sign-in, user and application areas; absent in tests of the shell alone. */
  readonly core?: {
    readonly signIn: SignInService;
    readonly users: UserService;
    readonly userDirectory: UserDirectory;
    readonly applications: ApplicationService;
    readonly applicationDirectory: ApplicationDirectory;
    /** Read-your-writes for queries of the views (the projection runner's waitForPosition). */
    readonly waitForPosition: (position: number, timeoutMs: number) => Promise<boolean>;
  };
}

export async function buildServer(
  deps: ApiDependencies,
  options: { logger: FastifyBaseLogger | false },
): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger === false ? { logger: false } : { loggerInstance: options.logger }),
    // The client address comes from the connection; forwarded headers are not believed.
    trustProxy: false,
    genReqId: requestId,
    bodyLimit: 1024 * 1024,
    requestTimeout: 120_000,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: true } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(problemsPlugin);
  await app.register(openApiPlugin, { version: deps.version });
  await app.register(metricsPlugin, {
    metrics: deps.metrics,
    ...(deps.beforeMetricsScrape ? { beforeScrape: deps.beforeMetricsScrape } : {}),
  });
  await app.register(principalPlugin);
  await app.register(healthRoutes, { version: deps.version, readiness: deps.readiness });
  const core = deps.core;
  if (core) {
    await app.register(sessionRoutes, { prefix: '/api/v1/sessions', signIn: core.signIn });
    await app.register(userRoutes, {
      prefix: '/api/v1/users',
      users: core.users,
      signIn: core.signIn,
      directory: core.userDirectory,
      waitForPosition: core.waitForPosition,
    });
    await app.register(applicationRoutes, {
      prefix: '/api/v1/applications',
      applications: core.applications,
      directory: core.applicationDirectory,
      signIn: core.signIn,
      waitForPosition: core.waitForPosition,
    });
  }
  return app;
}
