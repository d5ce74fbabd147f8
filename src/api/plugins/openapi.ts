/** OpenAPI 3 generated from the route schemas: /openapi.json, and a browsable UI at /docs. */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export const openApiPlugin = fp(
  async (app: FastifyInstance, options: { version: string }) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Sluice',
          version: options.version,
          description:
            'Managed file transfer with an immutable audit trail. Errors are application/problem+json (RFC 9457). ' +
            'Authenticated calls carry `Authorization: Bearer <token>`, the secret token returned once by the call that opened the session (never its public sessionId).',
        },
        tags: [
          { name: 'sessions', description: 'The seven session calls and who-am-I' },
          { name: 'users', description: 'User administration (admin right)' },
          { name: 'applications', description: 'The application registry (admin right)' },
          { name: 'health', description: 'Liveness, readiness and metrics' },
        ],
        components: {
          securitySchemes: {
            bearer: {
              type: 'http',
              scheme: 'bearer',
              description:
                'The token returned by one of the open calls (`sluice_` + 43 base64url characters)',
            },
          },
        },
      },
      refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  },
  { name: 'openapi' },
);
