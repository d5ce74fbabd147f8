/**
 * The sign-in defender's bans (admin): list those holding now (a recorded audit read), and
 * lift one. Lifting is recorded (SignInBanLifted) with the admin who did it.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AuditReads } from '../../application/audit-reads.js';
import type { SignInDefender } from '../../application/defender.js';
import type { BanScope } from '../../application/ports.js';
import { recordQuery } from '../audit/access.js';
import { contextOf, requireRight } from '../auth.js';
import { decodeCursor, encodeCursor, Page, PageQuery } from '../paging.js';
import { Problem, problemResponses } from '../problems.js';

const Scope = Type.Union([Type.Literal('address'), Type.Literal('user')], {
  description: 'A source address, or a user name tried (compared case-insensitively)',
});

const BanSchema = Type.Object({
  scope: Scope,
  key: Type.String({ examples: ['203.0.113.7'] }),
  until: Type.String({ format: 'date-time' }),
  banNumber: Type.Integer({
    description: 'How many times this key has been banned; each ban lasts twice the one before',
  }),
});

const BanList = Page(BanSchema);

const BanQuery = Type.Object({ limit: PageQuery.limit, cursor: PageQuery.cursor });

const LiftParams = Type.Object({
  scope: Scope,
  key: Type.String({ minLength: 1, maxLength: 254, pattern: '^[^\\u0000-\\u001f\\u007f]*$' }),
});

export interface BanRoutesOptions {
  readonly defender: SignInDefender;
  /** Reading the bans is recorded like any audit read. */
  readonly auditReads: AuditReads;
}

export const banRoutes: FastifyPluginAsyncTypebox<BanRoutesOptions> = async (
  app,
  { defender, auditReads },
) => {
  app.addHook('preHandler', requireRight('admin'));
  const tags = ['bans'];

  app.get(
    '/',
    {
      schema: {
        tags,
        summary: 'Sign-in bans holding now (addresses and user names), soonest to end first',
        description: 'Paged like every list; the read is recorded (AuditQueried, query bans.list).',
        querystring: BanQuery,
        response: { 200: BanList, ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const { limit = 50, cursor } = request.query;
      const after = decodeCursor(cursor, { until: 'string', scope: 'string', key: 'string' });
      if (after && (!['address', 'user'].includes(after.scope) || Number.isNaN(Date.parse(after.until))))
        throw new Problem(400, 'invalid-cursor', 'The cursor is not one this API gave out');
      await recordQuery(auditReads, request, 'bans.list', request.query);
      const bans = await defender.list(
        limit + 1,
        after && { until: new Date(after.until), scope: after.scope as BanScope, key: after.key },
      );
      const page = bans.slice(0, limit);
      const last = page.at(-1);
      return {
        items: page.map((b) => ({
          scope: b.scope,
          key: b.key,
          until: b.until.toISOString(),
          banNumber: b.banNumber,
        })),
        nextCursor:
          bans.length > limit && last
            ? encodeCursor({ until: last.until.toISOString(), scope: last.scope, key: last.key })
            : null,
      };
    },
  );

  app.delete(
    '/:scope/:key',
    {
      schema: {
        tags,
        summary: 'Lift a ban (recorded as SignInBanLifted)',
        params: LiftParams,
        response: { 204: Type.Null({ description: 'Lifted' }), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { scope, key } = request.params;
      if (!(await defender.lift(scope, key, contextOf(request))))
        throw new Problem(404, 'ban-not-found', `No ban holds ${scope} ${key}`);
      reply.status(204);
    },
  );
};
