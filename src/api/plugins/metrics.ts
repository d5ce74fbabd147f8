/** Times every HTTP request by route template and serves the Prometheus registry at /metrics. */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Metrics } from '../../adapters/metrics/metrics.js';

export interface MetricsPluginOptions {
  readonly metrics: Metrics;
  /** Refreshes gauges that are read at scrape time (event store head, projection positions). */
  readonly beforeScrape?: () => Promise<void>;
}

export const metricsPlugin = fp(
  async (app: FastifyInstance, { metrics, beforeScrape }: MetricsPluginOptions) => {
    app.addHook('onResponse', async (request, reply) => {
      metrics.httpRequestSeconds.observe(
        {
          method: request.method,
          route: request.routeOptions.url ?? 'unmatched',
          status: String(reply.statusCode),
        },
        reply.elapsedTime / 1000,
      );
    });
    app.get(
      '/metrics',
      {
        schema: {
          tags: ['health'],
          summary: 'Prometheus metrics',
          produces: ['text/plain'],
          response: { 200: { type: 'string', description: 'Prometheus text exposition format' } },
        },
      },
      async (_request, reply) => {
        await beforeScrape?.();
        reply.type(metrics.registry.contentType);
        return metrics.registry.metrics();
      },
    );
  },
  { name: 'metrics' },
);
