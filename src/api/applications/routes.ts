/** The application registry (admin): built-in ids below 1000, integrators' ids from 1000. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ApplicationService, ApplicationView } from '../../application/applications.js';
import { metadataFor } from '../../application/metadata.js';
import { builtInApplications } from '../../domain/applications/built-in.js';
import { contextOf, principalOf, requireRight } from '../auth.js';
import { awaitView, decodeCursor, encodeCursor, Page } from '../paging.js';
import { Problem, problemResponses } from '../problems.js';
import {
  type ApplicationBody,
  ApplicationSchema,
  ListQuery,
  Params,
  PatchBody,
  RegisterBody,
} from './schemas.js';

export interface ApplicationDirectory {
  /** Registered applications in id order after `afterId`, at most `limit`. */
  list(afterId: number, limit: number): Promise<ApplicationView[]>;
}

export interface ApplicationRoutesOptions {
  readonly applications: ApplicationService;
  readonly directory: ApplicationDirectory;
  readonly waitForPosition: (position: number, timeoutMs: number) => Promise<boolean>;
}

function body(view: ApplicationView, position?: number | null): ApplicationBody {
  return { ...view, ...(position === undefined || position === null ? {} : { position }) };
}

export const applicationRoutes: FastifyPluginAsyncTypebox<ApplicationRoutesOptions> = async (
  app,
  { applications, directory, waitForPosition },
) => {
  app.addHook('preHandler', requireRight('admin'));
  const tags = ['applications'];
  const problems = problemResponses(400, 401, 403, 404, 409);

  app.post(
    '/',
    {
      schema: {
        tags,
        summary: 'Register an integrator’s application id',
        body: RegisterBody,
        response: { 201: ApplicationSchema, ...problems },
      },
    },
    async (request, reply) => {
      const { application, position } = await applications.register(
        { ...request.body, description: request.body.description ?? '' },
        principalOf(request).session.userId,
        metadataFor(contextOf(request)),
      );
      reply.status(201).header('location', `/api/v1/applications/${application.applicationId}`);
      return body(application, position);
    },
  );

  app.get(
    '/',
    {
      schema: {
        tags,
        summary: 'Built-in and registered applications, in id order',
        querystring: ListQuery,
        response: { 200: Page(ApplicationSchema), ...problems },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? 50;
      const after = decodeCursor(request.query.cursor, { applicationId: 'number' })?.applicationId ?? 0;
      await awaitView(waitForPosition, request.query.minPosition);
      const builtIns = builtInApplications
        .filter((a) => a.applicationId > after)
        .map((a) => ({ ...a, enabled: true, builtIn: true }));
      const registered = await directory.list(Math.max(after, 999), limit + 1);
      const rows = [...builtIns, ...registered];
      const items = rows.slice(0, limit);
      const last = items[items.length - 1];
      return {
        items,
        nextCursor: rows.length > limit && last ? encodeCursor({ applicationId: last.applicationId }) : null,
      };
    },
  );

  app.get(
    '/:applicationId',
    {
      schema: {
        tags,
        summary: 'One application',
        params: Params,
        response: { 200: ApplicationSchema, ...problems },
      },
    },
    async (request) => {
      const view = await applications.get(request.params.applicationId);
      if (!view)
        throw new Problem(404, 'application-not-found', `No application ${request.params.applicationId}`);
      return body(view);
    },
  );

  app.patch(
    '/:applicationId',
    {
      schema: {
        tags,
        summary: 'Enable or disable an integrator’s application',
        params: Params,
        body: PatchBody,
        response: { 200: ApplicationSchema, ...problems },
      },
    },
    async (request) => {
      const { applicationId } = request.params;
      if (applicationId < 1000)
        throw new Problem(400, 'application-id-reserved', 'Built-in applications cannot be changed');
      const position = await applications.setEnabled(
        applicationId,
        request.body.enabled,
        principalOf(request).session.userId,
        metadataFor(contextOf(request)),
      );
      const view = await applications.get(applicationId);
      if (!view) throw new Problem(404, 'application-not-found', `No application ${applicationId}`);
      return body(view, position);
    },
  );
};
