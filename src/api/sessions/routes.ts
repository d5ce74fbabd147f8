/**
 * The seven session calls and "who am I". Handlers only translate: body → use case → reply.
 * The calls that open a session are public (sessionRoutes); close and "who am I" need one
 * (ownSessionRoutes).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Opened, SignInService } from '../../application/sign-in.js';
import { bearerToken, contextOf, principalOf } from '../auth.js';
import { problemResponses } from '../problems.js';
import {
  CloseBody,
  ClosedSchema,
  CurrentSessionSchema,
  OpenBody,
  OpenedSchema,
  OpenImmutableBody,
  OpenImpersonateBody,
  OpenUserStringBody,
  OpenWithTicketBody,
  OpenWithTicketExBody,
} from './schemas.js';

export interface SessionRoutesOptions {
  readonly signIn: SignInService;
}

const problems = problemResponses(400, 401, 403);

function reply(opened: Opened) {
  if (opened.token === null) throw new Error('an HTTP sign-in must issue a token');
  return {
    sessionId: opened.sessionId,
    token: opened.token,
    userId: opened.userId,
    position: opened.position,
  };
}

export const sessionRoutes: FastifyPluginAsyncTypebox<SessionRoutesOptions> = async (app, { signIn }) => {
  const tags = ['sessions'];
  const created = (description: string) => ({ 201: { ...OpenedSchema, description }, ...problems });

  app.post(
    '/open',
    {
      schema: {
        tags,
        summary: 'Open: a replaceable session (the next Open by the same user and application replaces it)',
        body: OpenBody,
        response: created('The new session'),
      },
    },
    async (request, res) => {
      const { clientVersion, ...rest } = request.body;
      res.status(201);
      return reply(await signIn.open({ ...rest, clientVersion }, contextOf(request)));
    },
  );

  app.post(
    '/open-with-ticket',
    {
      config: { ticketCall: true },
      schema: {
        tags,
        summary: 'OpenWithTicket: a replaceable session for the existing user named in the ticket',
        body: OpenWithTicketBody,
        response: created('The new session'),
      },
    },
    async (request, res) => {
      res.status(201);
      return reply(await signIn.openWithTicket(request.body, contextOf(request)));
    },
  );

  app.post(
    '/open-with-ticket-ex',
    {
      config: { ticketCall: true },
      schema: {
        tags,
        summary:
          'OpenWithTicketEx: a replaceable session for the user with this e-mail address, created if absent',
        body: OpenWithTicketExBody,
        response: created('The new session'),
      },
    },
    async (request, res) => {
      res.status(201);
      return reply(await signIn.openWithTicketEx(request.body, contextOf(request)));
    },
  );

  app.post(
    '/open-immutable',
    {
      schema: {
        tags,
        summary: 'OpenImmutable: a session never replaced, ending by Close or 48 hours after it opened',
        description:
          'For SFTP (3) and FTPS (4) it answers 200 with the user’s immutable session that is already alive, if any.',
        body: OpenImmutableBody,
        response: {
          200: { ...OpenedSchema, description: 'The alive session of the protocol' },
          ...created('The new session'),
        },
      },
    },
    async (request, res) => {
      const opened = await signIn.openImmutable(
        { ...request.body, clientVersion: request.body.clientVersion ?? null },
        contextOf(request),
      );
      res.status(opened.created ? 201 : 200);
      return reply(opened);
    },
  );

  app.post(
    '/open-immutable-impersonate',
    {
      schema: {
        tags,
        summary:
          'OpenImmutableImpersonate: a service session holding the impersonate right opens an immutable session for a user',
        description:
          'The service authenticates with its own token. The user may hold no right (admin, auditor, impersonate); ' +
          'the application must be the service session’s own.',
        security: [{ bearer: [] }],
        body: OpenImpersonateBody,
        response: created('The new session'),
      },
    },
    async (request, res) => {
      const serviceToken = bearerToken(request);
      res.status(201);
      return reply(
        await signIn.openImmutableImpersonate({ ...request.body, serviceToken }, contextOf(request)),
      );
    },
  );

  app.post(
    '/open-immutable-user-string',
    {
      schema: {
        tags,
        summary:
          'OpenImmutableUserString: an immutable session that records an external userString on every transfer',
        description:
          'Either a service (its token as Bearer, with the impersonation rules) names the user, or the user signs in ' +
          'with name and password.',
        security: [{ bearer: [] }, {}],
        body: OpenUserStringBody,
        response: created('The new session'),
      },
    },
    async (request, res) => {
      const body = request.body;
      const input = 'userName' in body ? body : { ...body, serviceToken: bearerToken(request) };
      res.status(201);
      return reply(await signIn.openImmutableUserString(input, contextOf(request)));
    },
  );
};

/** Close and "who am I": in the authenticated scope (api/v1.ts). */
export const ownSessionRoutes: FastifyPluginAsyncTypebox<SessionRoutesOptions> = async (app, { signIn }) => {
  const tags = ['sessions'];

  app.post(
    '/close',
    {
      // No body at all means the caller's own session, as `{}` does.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        tags,
        summary: 'Close: ends a session',
        description: 'The caller’s own session, or (admin) the session named in the body.',
        body: CloseBody,
        response: {
          200: ClosedSchema,
          ...problemResponses(400, 401, 403, 404, 409),
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const own = principal.session.sessionId;
      const sessionId = request.body.sessionId?.toLowerCase() ?? own;
      const { position } = await signIn.close(sessionId, contextOf(request), {
        sessionId: own,
        admin: principal.rights.includes('admin'),
      });
      return { sessionId, position };
    },
  );

  app.get(
    '/current',
    {
      schema: {
        tags,
        summary: 'Who am I: the caller’s own session',
        response: { 200: CurrentSessionSchema, ...problemResponses(401) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const s = principal.session;
      return {
        sessionId: s.sessionId,
        userId: s.userId,
        userName: principal.userName,
        rights: [...principal.rights],
        applicationId: s.applicationId,
        kind: s.kind,
        method: s.method,
        clientVersion: s.clientVersion,
        clientIp: s.clientIp,
        userString: s.userString,
        impersonator: s.impersonator,
        openedAt: s.openedAt,
        expiresAt: s.expiresAt,
      };
    },
  );
};
