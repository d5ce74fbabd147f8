/**
 * The audit calls: a filtered, keyset-paged list of audit events, the same rows exported as
 * CSV or NDJSON (streamed), and a live Server-Sent Events stream of new rows, resumable with
 * Last-Event-ID. Every call is recorded (AuditQueried) before it is answered.
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RefusalCounter } from '../../application/refusals.js';
import type { SignInService } from '../../application/sign-in.js';
import { exportChunks } from '../../projections/audit/export.js';
import type { AuditFilters } from '../../projections/audit/queries.js';
import { auditCheckpoint, queryAudit, sessionEndedBetween } from '../../projections/audit/queries.js';
import { type Principal, principalOf } from '../auth.js';
import { awaitView } from '../paging.js';
import { Problem, problemResponses } from '../problems.js';
import {
  auditItemBody,
  nextCursor,
  readCursor,
  recordQuery,
  scopedUserId,
  timeRange,
  type ViewDependencies,
} from './access.js';
import {
  AuditEventsQuery,
  type AuditEventsQueryType,
  AuditExportQuery,
  AuditPage,
  AuditStreamQuery,
  type AuditStreamQueryType,
} from './schemas.js';
import { type AuditStreams, streamAudit } from './stream.js';

export interface AuditRoutesOptions {
  readonly signIn: SignInService;
  readonly views: ViewDependencies;
  readonly waitForPosition: (position: number, timeoutMs: number) => Promise<boolean>;
  /** Live streams one user may hold at once; the next gets 429. */
  readonly maxStreamsPerUser: number;
  /** Live streams this process serves at once, all users together; the next gets 503. */
  readonly maxStreams: number;
  readonly refused: RefusalCounter;
}

const problems = problemResponses(400, 401, 403, 503);

type FilterQuery = Omit<AuditEventsQueryType, 'order' | 'limit' | 'cursor' | 'minPosition'>;

/** The filters of a request, scoped to what the caller may see. */
function auditFilters(principal: Principal, query: FilterQuery): AuditFilters {
  return {
    operations: query.operation,
    userId: scopedUserId(principal, query.userId),
    userName: query.userName,
    applicationId: query.applicationId,
    sessionId: query.sessionId?.toLowerCase(),
    ip: query.ip,
    userString: query.userString,
    pathPrefix: query.path,
    outcome: query.outcome,
    untilPosition: query.untilPosition,
    ...timeRange(query.from, query.to),
  };
}

export const auditRoutes: FastifyPluginAsyncTypebox<AuditRoutesOptions> = async (
  app,
  { signIn, views, waitForPosition, maxStreamsPerUser, maxStreams, refused },
) => {
  const tags = ['audit'];
  const streams: AuditStreams = new Set();
  /** Live streams by user id (in this process). */
  const streamsOf = new Map<number, number>();
  // Open event streams would keep the server from closing: end them first.
  app.addHook('preClose', async () => {
    for (const controller of streams) controller.abort();
  });

  app.get(
    '/events',
    {
      schema: {
        tags,
        summary: 'Audit events: filters, keyset cursor paging, ascending or descending by global position',
        description:
          'Admins and auditors see every event; other users only their own. Pages are stable while events are added: ' +
          'follow nextCursor until it is null. untilPosition answers as the log stood at that position.',
        querystring: AuditEventsQuery,
        response: { 200: AuditPage, ...problems },
      },
    },
    async (request) => {
      const query = request.query;
      const order = query.order ?? 'desc';
      const limit = query.limit ?? 50;
      const after = readCursor(query.cursor, order);
      const filters = auditFilters(principalOf(request), query);
      await awaitView(waitForPosition, query.minPosition);
      await recordQuery(views.auditReads, request, 'audit.events', query);
      const rows = await queryAudit(views.db, filters, { after, limit, order });
      const items = rows.slice(0, limit);
      const last = items.at(-1);
      return {
        items: items.map(auditItemBody),
        nextCursor: nextCursor(rows.length > limit, last?.position, order),
      };
    },
  );

  app.get(
    '/export',
    {
      schema: {
        tags,
        summary: 'Export audit events as CSV or NDJSON (streamed)',
        description:
          'The same filters as /audit/events. The export is the view as it stood when the call began (rows added ' +
          'meanwhile are left out), in global-position order. CSV: RFC 4180, a header line, CRLF line ends, fields ' +
          'with commas, quotes or line breaks quoted. Values are exported as recorded unless `spreadsheetSafe=true` ' +
          'neutralises cells a spreadsheet would run as formulas.',
        querystring: AuditExportQuery,
        produces: ['text/csv', 'application/x-ndjson'],
        response: {
          200: {
            description: 'The rows, streamed',
            content: {
              'text/csv': { schema: { type: 'string' } },
              'application/x-ndjson': { schema: { type: 'string' } },
            },
          },
          ...problems,
        },
      },
    },
    async (request, reply) => {
      const query = request.query;
      const filters = auditFilters(principalOf(request), query);
      await awaitView(waitForPosition, query.minPosition);
      await recordQuery(views.auditReads, request, 'audit.export', query);
      const checkpoint = await auditCheckpoint(views.db);
      const until = Math.min(filters.untilPosition ?? checkpoint, checkpoint);
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      reply
        .header('content-disposition', `attachment; filename="audit-${stamp}.${query.format}"`)
        .header('cache-control', 'no-store')
        .type(query.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8');
      const chunks = exportChunks(
        views.db,
        { ...filters, untilPosition: until },
        query.order ?? 'asc',
        query.format,
        { spreadsheetSafe: query.spreadsheetSafe === true },
      );
      return reply.send(Readable.from(chunks, { objectMode: false, highWaterMark: 1 }));
    },
  );

  app.get(
    '/stream',
    {
      schema: {
        tags,
        summary: 'Live audit events as Server-Sent Events, resumable with Last-Event-ID',
        description:
          'Each new row matching the filters is sent as `event: audit`, `id: <global position>`, `data: <the row as ' +
          'JSON>`. Reconnect with Last-Event-ID (or ?after=) to receive every row after that position, none missed. ' +
          'Without it the stream starts at the present. A comment line every 15 s keeps proxies from closing it; ' +
          'the stream ends (`event: end`) when the session ends.',
        querystring: AuditStreamQuery,
        produces: ['text/event-stream'],
        response: {
          200: {
            description: 'An endless text/event-stream',
            content: { 'text/event-stream': { schema: { type: 'string' } } },
          },
          ...problems,
          ...problemResponses(429),
        },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const userId = principal.user.userId;
      // Counted before the first await, so simultaneous requests cannot all pass.
      const open = streamsOf.get(userId) ?? 0;
      const all = [...streamsOf.values()].reduce((n, k) => n + k, 0);
      if (all >= maxStreams) {
        refused('audit-streams');
        throw new Problem(
          503,
          'too-many-streams',
          'Too many live audit streams on this server',
          `This server serves ${all} live audit streams, the most allowed; try again later`,
          { 'retry-after': '30' },
        );
      }
      if (open >= maxStreamsPerUser) {
        refused('audit-streams-per-user');
        throw new Problem(
          429,
          'too-many-streams',
          'Too many live audit streams',
          `You hold ${open} live audit streams, the most allowed; close one first`,
        );
      }
      streamsOf.set(userId, open + 1);
      try {
        await serveStream(request, reply, principal, request.query);
      } finally {
        const left = (streamsOf.get(userId) ?? 1) - 1;
        if (left > 0) streamsOf.set(userId, left);
        else streamsOf.delete(userId);
      }
    },
  );

  const serveStream = async (
    request: FastifyRequest,
    reply: FastifyReply,
    principal: Principal,
    query: AuditStreamQueryType,
  ): Promise<void> => {
    const filters = auditFilters(principal, query);
    const header = request.headers['last-event-id'];
    let after = query.after;
    if (header !== undefined) {
      const text = Array.isArray(header) ? header[0] : header;
      if (text === undefined || !/^\d{1,15}$/.test(text.trim())) {
        throw new Problem(400, 'invalid-last-event-id', 'Last-Event-ID must be a global position');
      }
      after = Number(text.trim());
    }
    await recordQuery(views.auditReads, request, 'audit.stream', {
      ...query,
      ...(after === undefined ? {} : { after }),
    });
    await streamAudit({
      request,
      reply,
      views,
      filters,
      // Without a position to resume from: whatever the log holds now is not sent.
      after: after ?? (await views.auditReads.head()),
      streams,
      // The session still alive, and every right the stream was opened with still held.
      alive: async () => {
        const { liveness, user } = await signIn.check(principal.session.sessionId);
        return (
          liveness.alive &&
          user.status === 'active' &&
          principal.rights.every((right) => user.rights.includes(right))
        );
      },
      endedBetween: (from, until) => sessionEndedBetween(views.db, principal.session, from, until),
    });
  };
};
