/** Liveness and readiness for load balancers and orchestrators. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { HealthSchema, type Readiness, ReadinessSchema } from './schemas.js';

export interface HealthRoutesOptions {
  readonly version: string;
  readonly readiness: () => Promise<Readiness>;
}

export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (app, options) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['health'],
        summary: 'The process is up',
        response: { 200: HealthSchema },
      },
    },
    async () => ({ status: 'ok' as const, version: options.version }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'The database answers and every projection is caught up within the configured lag',
        response: { 200: ReadinessSchema, 503: ReadinessSchema },
      },
    },
    async (_request, reply) => {
      const readiness = await options.readiness();
      return reply.status(readiness.status === 'ready' ? 200 : 503).send(readiness);
    },
  );
};
