/**
 * Everything under /api/v1. The calls that open a session are public; every other call lives
 * in one authenticated scope, where a single preHandler checks the bearer token (auth.ts)
 * before any handler runs, and every route is documented as needing it. Areas then only add
 * the rights they need (`requireRight`).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Metrics } from '../adapters/metrics/metrics.js';
import { applicationRoutes } from './applications/routes.js';
import { logRoutes } from './audit/log-routes.js';
import { auditRoutes } from './audit/routes.js';
import { authenticate } from './auth.js';
import { banRoutes } from './defender/routes.js';
import { fileRoutes } from './files/routes.js';
import { notifierRoutes } from './flows/notifier-routes.js';
import { flowRoutes } from './flows/routes.js';
import type { ApiDependencies } from './server.js';
import { ownSessionRoutes, sessionRoutes } from './sessions/routes.js';
import { sessionViewRoutes } from './sessions/view-routes.js';
import { userRoutes } from './users/routes.js';

export interface ApiV1Options {
  readonly core: NonNullable<ApiDependencies['core']>;
  readonly metrics: Metrics;
}

export const apiV1: FastifyPluginAsyncTypebox<ApiV1Options> = async (app, { core, metrics }) => {
  const { signIn, waitForPosition } = core;
  await app.register(sessionRoutes, { prefix: '/sessions', signIn });

  await app.register(async (authenticated) => {
    authenticated.addHook('onRoute', (route) => {
      route.schema = { ...route.schema, security: [{ bearer: [] }] };
    });
    authenticated.addHook('preHandler', authenticate(signIn));

    await authenticated.register(ownSessionRoutes, { prefix: '/sessions', signIn });
    await authenticated.register(fileRoutes, {
      files: core.files,
      maxUploadBytes: core.maxUploadBytes,
      ...(core.knownDigest ? { knownDigest: core.knownDigest } : {}),
    });
    if (core.views) {
      const views = { views: core.views, waitForPosition };
      await authenticated.register(sessionViewRoutes, { prefix: '/sessions', ...views });
      await authenticated.register(auditRoutes, {
        prefix: '/audit',
        signIn,
        ...views,
        maxStreamsPerUser: core.auditStreamsPerUser ?? 5,
        maxStreams: core.auditStreams ?? 200,
        refused: (reason) => metrics.refusals.inc({ reason }),
      });
      if (core.log) await authenticated.register(logRoutes, { prefix: '/audit', ...core.log });
      await authenticated.register(banRoutes, {
        prefix: '/bans',
        defender: core.defender,
        auditReads: core.views.auditReads,
      });
    }
    if (core.flows) await authenticated.register(flowRoutes, { ...core.flows, waitForPosition });
    if (core.notifiers) await authenticated.register(notifierRoutes, { ...core.notifiers, waitForPosition });
    await authenticated.register(userRoutes, {
      prefix: '/users',
      users: core.users,
      directory: core.userDirectory,
      waitForPosition,
    });
    await authenticated.register(applicationRoutes, {
      prefix: '/applications',
      applications: core.applications,
      directory: core.applicationDirectory,
      waitForPosition,
    });
  });
};
