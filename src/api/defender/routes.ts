/**
 * The sign-in defender's bans (admin): list those holding now, and lift one. Lifting is
 * recorded (SignInBanLifted) with the admin who did it.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { SignInDefender } from '../../application/defender.js';
import type { SignInService } from '../../application/sign-in.js';
import { authenticate, contextOf, requireRight } from '../auth.js';
import { Problem, problemResponses } from '../problem.js';

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

const BanList = Type.Object({
  items: Type.Array(BanSchema),
  nextCursor: Type.Null({ description: 'Always null: every ban holding now is listed' }),
});

const LiftParams = Type.Object({
  scope: Scope,
  key: Type.String({ minLength: 1, maxLength: 254, pattern: '^[^\\u0000-\\u001f\\u007f]*$' }),
});

export interface BanRoutesOptions {
  readonly defender: SignInDefender;
  readonly signIn: SignInService;
}

export const banRoutes: FastifyPluginAsyncTypebox<BanRoutesOptions> = async (app, { defender, signIn }) => {
  app.addHook('preHandler', authenticate(signIn));
  app.addHook('preHandler', requireRight('admin'));
  const tags = ['bans'];
  const security = [{ bearer: [] }];

  app.get(
    '/',
    {
      schema: {
        tags,
        security,
        summary: 'Sign-in bans holding now (addresses and user names), soonest to end first',
        response: { 200: BanList, ...problemResponses(401, 403) },
      },
    },
    async () => ({
      items: (await defender.list()).map((b) => ({
        scope: b.scope,
        key: b.key,
        until: b.until.toISOString(),
        banNumber: b.banNumber,
      })),
      nextCursor: null,
    }),
  );

  app.delete(
    '/:scope/:key',
    {
      schema: {
        tags,
        security,
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
