/**
 * The HTTP server: fastify with pino logging, TypeBox schemas (validation, types and OpenAPI
 * from one source), problem+json errors, then one plugin per area.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Metrics } from '../adapters/metrics/metrics.js';
import { healthRoutes } from './health/routes.js';
import type { Readiness } from './health/schemas.js';
import { metricsPlugin } from './plugins/metrics.js';
import { openApiPlugin } from './plugins/openapi.js';
import { problemsPlugin } from './plugins/problems.js';

export interface ApiDependencies {
  readonly version: string;
  readonly metrics: Metrics;
  readonly readiness: () => Promise<Readiness>;
  readonly beforeMetricsScrape?: () => Promise<void>;
}

export async function buildServer(
  deps: ApiDependencies,
  options: { logger: FastifyBaseLogger | false },
): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger === false ? { logger: false } : { loggerInstance: options.logger }),
    // The client address comes from the connection; forwarded headers are not believed.
    trustProxy: false,
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
  await app.register(healthRoutes, { version: deps.version, readiness: deps.readiness });
  return app;
}
