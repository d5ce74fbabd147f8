/**
 * Flows and their deliveries (admin; docs/flows.md): define, list, read and remove flows; list
 * deliveries by state (the dead letters are `state=dead`) and requeue a dead letter.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FlowService } from '../../application/flows/flow-service.js';
import { metadataFor } from '../../application/metadata.js';
import type { FlowRecord } from '../../projections/flows-queries.js';
import type { ReadViews } from '../../projections/read-views.js';
import { contextOf, requireRight } from '../auth.js';
import { awaitView, decodeCursor, encodeCursor, Page, pageByPosition } from '../paging.js';
import { Problem, problemResponses } from '../problems.js';
import {
  DeliveryListQuery,
  DeliveryParams,
  DeliverySchema,
  FlowBody,
  FlowListQuery,
  FlowParams,
  FlowSchema,
  RequeuedSchema,
} from './schemas.js';

export interface FlowRoutesOptions {
  readonly flows: FlowService;
  readonly views: Pick<ReadViews, 'flowDefinition' | 'listFlows' | 'listDeliveries'>;
  readonly waitForPosition: (position: number, timeoutMs: number) => Promise<boolean>;
}

const flowBody = (record: FlowRecord) => ({ ...record.flow, position: record.position });

export const flowRoutes: FastifyPluginAsyncTypebox<FlowRoutesOptions> = async (
  app,
  { flows, views, waitForPosition },
) => {
  app.addHook('preHandler', requireRight('admin'));
  const tags = ['flows'];
  const problems = problemResponses(400, 401, 403, 404, 409);

  app.post(
    '/flows',
    {
      schema: {
        tags,
        summary: 'Define a flow: complete uploads of a folder go to another user or an SFTP server',
        body: FlowBody,
        response: { 201: FlowSchema, ...problems },
      },
    },
    async (request, reply) => {
      const { credentials, trigger, keepSource, ...rest } = request.body;
      const { flow, position } = await flows.define(
        { ...rest, trigger: trigger ?? null, keepSource: keepSource ?? false },
        credentials,
        metadataFor(contextOf(request)),
      );
      reply.status(201).header('location', `/api/v1/flows/${flow.flowId}`);
      return { ...flow, position };
    },
  );

  app.get(
    '/flows',
    {
      schema: {
        tags,
        summary: 'Flows in force, in the order they were defined',
        querystring: FlowListQuery,
        response: { 200: Page(FlowSchema), ...problems },
      },
    },
    (request) => pageByPosition(request.query, waitForPosition, views.listFlows, flowBody),
  );

  app.get(
    '/flows/:flowId',
    { schema: { tags, summary: 'One flow', params: FlowParams, response: { 200: FlowSchema, ...problems } } },
    async (request) => {
      const record = await views.flowDefinition(request.params.flowId);
      if (!record || record.removed)
        throw new Problem(404, 'flow-not-found', `No flow ${request.params.flowId}`);
      return flowBody(record);
    },
  );

  app.delete(
    '/flows/:flowId',
    {
      schema: {
        tags,
        summary: 'Remove a flow (its deliveries under way finish; waiting ones fail)',
        params: FlowParams,
        response: { 204: { type: 'null' }, ...problems },
      },
    },
    async (request, reply) => {
      await flows.remove(request.params.flowId, metadataFor(contextOf(request)));
      reply.status(204);
    },
  );

  app.get(
    '/deliveries',
    {
      schema: {
        tags,
        summary:
          'Deliveries (flow transfers, notifications, scans) in the order of their causes; `state=dead` lists the dead letters',
        querystring: DeliveryListQuery,
        response: { 200: Page(DeliverySchema), ...problems },
      },
    },
    async (request) => {
      const { limit = 50, state, kind, ownerId, cursor, minPosition } = request.query;
      await awaitView(waitForPosition, minPosition);
      const after = decodeCursor(cursor, { position: 'number', id: 'string' });
      const rows = await views.listDeliveries({ state, kind, ownerId }, after, limit + 1);
      const items = rows.slice(0, limit);
      const last = items[items.length - 1];
      return {
        items: items.map((d) => ({
          ...d,
          dueAt: d.dueAt?.toISOString() ?? null,
          scheduledAt: d.scheduledAt.toISOString(),
          updatedAt: d.updatedAt.toISOString(),
        })),
        nextCursor:
          rows.length > limit && last
            ? encodeCursor({ position: last.causePosition, id: last.deliveryId })
            : null,
      };
    },
  );

  app.post(
    '/deliveries/:deliveryId/requeue',
    {
      schema: {
        tags,
        summary: 'Try a dead-lettered delivery again (with the same delivery id)',
        params: DeliveryParams,
        response: { 200: RequeuedSchema, ...problems },
      },
    },
    async (request) => {
      const { deliveryId } = request.params;
      const position = await flows.requeue(deliveryId, metadataFor(contextOf(request)));
      return { deliveryId, position };
    },
  );
};
