/**
 * The session views: sessions with filters and cursor paging, one session, and a session's
 * timeline (every audited event of it, in order, optionally as the log stood at a time or a
 * position). Admins and auditors see every session; other users their own. Every call is
 * recorded (AuditQueried) before it is answered.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Static } from '@sinclair/typebox';
import { builtInApplications } from '../../domain/applications/built-in.js';
import { queryAudit } from '../../projections/audit/queries.js';
import { getSession, listSessions, type SessionRow } from '../../projections/sessions-view.js';
import {
  auditItemBody,
  nextCursor,
  readCursor,
  recordQuery,
  scopedUserId,
  seesEverything,
  timeRange,
  type ViewDependencies,
} from '../audit/access.js';
import { type Principal, principalOf } from '../auth.js';
import { awaitView } from '../paging.js';
import { Problem, problemResponses } from '../problems.js';
import {
  ListSessionsQuery,
  SessionIdParams,
  SessionQuery,
  SessionViewSchema as SessionViewBody,
  SessionViewPage,
  type SessionViewSchema,
  TimelinePage,
  TimelineQuery,
} from './view-schemas.js';

export interface SessionViewRoutesOptions {
  readonly views: ViewDependencies;
  readonly waitForPosition: (position: number, timeoutMs: number) => Promise<boolean>;
}

const problems = problemResponses(400, 401, 403, 404, 503);

const builtInNames: ReadonlyMap<number, string> = new Map(
  builtInApplications.map((a) => [a.applicationId, a.name]),
);

type SessionBody = Static<typeof SessionViewSchema>;

function sessionBody(row: SessionRow): SessionBody {
  return {
    ...row,
    kind: row.kind as SessionBody['kind'],
    endReason: row.endReason as SessionBody['endReason'],
  };
}

export const sessionViewRoutes: FastifyPluginAsyncTypebox<SessionViewRoutesOptions> = async (
  app,
  { views, waitForPosition },
) => {
  const tags = ['sessions'];

  /** The session, if the caller may see it; otherwise 404 (whether or not it exists). */
  async function visibleSession(principal: Principal, sessionId: string): Promise<SessionRow> {
    const row = await getSession(views.db, builtInNames, sessionId.toLowerCase());
    if (!row || (!seesEverything(principal) && row.userId !== principal.session.userId)) {
      throw new Problem(404, 'session-not-found', `No session ${sessionId}`);
    }
    return row;
  }

  app.get(
    '/',
    {
      schema: {
        tags,
        summary: 'Sessions: filters, cursor paging, newest or oldest first',
        description: 'Admins and auditors see every session; other users only their own.',
        querystring: ListSessionsQuery,
        response: { 200: SessionViewPage, ...problems },
      },
    },
    async (request) => {
      const query = request.query;
      const principal = principalOf(request);
      const order = query.order ?? 'desc';
      const limit = query.limit ?? 50;
      const after = readCursor(query.cursor, order);
      const filters = {
        userId: scopedUserId(principal, query.userId),
        applicationId: query.applicationId,
        kind: query.kind,
        state: query.state as 'open' | 'ended' | 'closed' | 'replaced' | 'expired' | undefined,
        ip: query.ip,
        userString: query.userString,
        ...timeRange(query.from, query.to),
      };
      await awaitView(waitForPosition, query.minPosition);
      await recordQuery(views.auditReads, request, 'sessions.list', query);
      const rows = await listSessions(views.db, builtInNames, filters, { after, limit, order });
      const items = rows.slice(0, limit);
      const last = items.at(-1);
      return {
        items: items.map(sessionBody),
        nextCursor: nextCursor(rows.length > limit, last?.position, order),
      };
    },
  );

  app.get(
    '/:sessionId',
    {
      schema: {
        tags,
        summary: 'One session: who, from where, how it ended, what happened in it',
        params: SessionIdParams,
        querystring: SessionQuery,
        response: { 200: SessionViewBody, ...problems },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      await awaitView(waitForPosition, request.query.minPosition);
      await recordQuery(views.auditReads, request, 'sessions.get', {
        sessionId: request.params.sessionId,
        ...request.query,
      });
      return sessionBody(await visibleSession(principal, request.params.sessionId));
    },
  );

  app.get(
    '/:sessionId/timeline',
    {
      schema: {
        tags,
        summary: 'A session’s timeline: every audited event of the session, in order',
        description:
          'Sign-in, connections, transfers, denials and the end, oldest first. asOf (a time) or untilPosition ' +
          '(a global position) answers as the log stood then.',
        params: SessionIdParams,
        querystring: TimelineQuery,
        response: { 200: TimelinePage, ...problems },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const query = request.query;
      const limit = query.limit ?? 50;
      const after = readCursor(query.cursor, 'asc');
      await awaitView(waitForPosition, query.minPosition);
      await recordQuery(views.auditReads, request, 'sessions.timeline', {
        sessionId: request.params.sessionId,
        ...query,
      });
      const session = await visibleSession(principal, request.params.sessionId);
      const rows = await queryAudit(
        views.db,
        {
          sessionId: session.sessionId,
          untilPosition: query.untilPosition,
          ...(query.asOf === undefined ? {} : { asOf: new Date(query.asOf) }),
        },
        { after, limit, order: 'asc' },
      );
      const items = rows.slice(0, limit);
      const last = items.at(-1);
      return {
        items: items.map(auditItemBody),
        nextCursor: nextCursor(rows.length > limit, last?.position, 'asc'),
      };
    },
  );
};
