/**
 * Notifiers (admin; docs/flows.md): define, list, read and remove the webhooks, e-mails and
 * syslog destinations told of events that pass their filter. Their deliveries are listed and
 * requeued with the flows' (routes.ts).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { metadataFor } from '../../application/metadata.js';
import type { NotifierService } from '../../application/notifications/notifier-service.js';
import type { NotifierRecord } from '../../projections/flows-queries.js';
import type { ReadViews } from '../../projections/read-views.js';
import { contextOf, requireRight } from '../auth.js';
import { Page, pageByPosition } from '../paging.js';
import { Problem, problemResponses } from '../problems.js';
import {
  DefinedNotifierSchema,
  NotifierBody,
  NotifierListQuery,
  NotifierParams,
  NotifierSchema,
} from './schemas.js';

export interface NotifierRoutesOptions {
  readonly notifiers: NotifierService;
  readonly views: Pick<ReadViews, 'notifierDefinition' | 'listNotifiers'>;
  readonly waitForPosition: (position: number, timeoutMs: number) => Promise<boolean>;
}

const notifierBody = (record: NotifierRecord) => ({ ...record.notifier, position: record.position });

export const notifierRoutes: FastifyPluginAsyncTypebox<NotifierRoutesOptions> = async (
  app,
  { notifiers, views, waitForPosition },
) => {
  app.addHook('preHandler', requireRight('admin'));
  const tags = ['notifiers'];
  const problems = problemResponses(400, 401, 403, 404, 409);

  app.post(
    '/notifiers',
    {
      schema: {
        tags,
        summary: 'Define a notifier: events passing its filter are sent by webhook, e-mail or syslog',
        body: NotifierBody,
        response: { 201: DefinedNotifierSchema, ...problems },
      },
    },
    async (request, reply) => {
      const { notifier, signingSecret, position } = await notifiers.define(
        { ...request.body, filter: request.body.filter ?? {} },
        metadataFor(contextOf(request)),
      );
      reply.status(201).header('location', `/api/v1/notifiers/${notifier.notifierId}`);
      return { ...notifier, signingSecret, position };
    },
  );

  app.get(
    '/notifiers',
    {
      schema: {
        tags,
        summary: 'Notifiers in force, in the order they were defined',
        querystring: NotifierListQuery,
        response: { 200: Page(NotifierSchema), ...problems },
      },
    },
    (request) => pageByPosition(request.query, waitForPosition, views.listNotifiers, notifierBody),
  );

  app.get(
    '/notifiers/:notifierId',
    {
      schema: {
        tags,
        summary: 'One notifier',
        params: NotifierParams,
        response: { 200: NotifierSchema, ...problems },
      },
    },
    async (request) => {
      const record = await views.notifierDefinition(request.params.notifierId);
      if (!record || record.removed)
        throw new Problem(404, 'notifier-not-found', `No notifier ${request.params.notifierId}`);
      return notifierBody(record);
    },
  );

  app.delete(
    '/notifiers/:notifierId',
    {
      schema: {
        tags,
        summary: 'Remove a notifier (its pending deliveries fail)',
        params: NotifierParams,
        response: { 204: { type: 'null' }, ...problems },
      },
    },
    async (request, reply) => {
      await notifiers.remove(request.params.notifierId, metadataFor(contextOf(request)));
      reply.status(204);
    },
  );
};
