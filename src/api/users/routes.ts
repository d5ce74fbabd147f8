/** User administration (admin only). Reads of one user come from its stream; lists from the read model. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Static } from '@sinclair/typebox';
import { parsePublicKey } from '../../adapters/ssh/public-keys.js';
import { metadataFor } from '../../application/metadata.js';
import type { ActiveUser, UserService } from '../../application/users.js';
import type { UserChanges } from '../../domain/users/user.js';
import { contextOf, principalOf, requireRight } from '../auth.js';
import { awaitView, decodeCursor, encodeCursor } from '../paging.js';
import { Problem, problemResponses } from '../problems.js';
import {
  CreateUserBody,
  type ListUsersFilters,
  ListUsersQuery,
  UpdateUserBody,
  type UserBody,
  UserIdParams,
  UserPage,
  UserSchema,
  type UserSummarySchema,
} from './schemas.js';

export interface UserDirectory {
  /** Users in id order after `afterUserId`, at most `limit` + 1 (to tell whether more follow). */
  list(
    filters: ListUsersFilters,
    afterUserId: number | undefined,
    limit: number,
  ): Promise<Array<Static<typeof UserSummarySchema>>>;
}

export interface UserRoutesOptions {
  readonly users: UserService;
  readonly directory: UserDirectory;
  readonly waitForPosition: (position: number, timeoutMs: number) => Promise<boolean>;
}

export function userBody(user: ActiveUser, position?: number | null): UserBody {
  return {
    userId: user.userId,
    userName: user.userName,
    emailAddress: user.emailAddress,
    firstName: user.firstName,
    lastName: user.lastName,
    enabled: user.enabled,
    rights: [...user.rights],
    homeFolder: user.homeFolder,
    permissions: user.permissions.map((p) => ({ path: p.path, permissions: [...p.permissions] })),
    hasPassword: user.credentialVersion !== null,
    quotaBytes: user.quotaBytes,
    maxFileBytes: user.maxFileBytes,
    sshPublicKeys: user.keys.map((k) => ({ ...k })),
    ...(position === undefined || position === null ? {} : { position }),
  };
}

const notFound = (userId: number) => new Problem(404, 'user-not-found', `No user ${userId}`);

export const userRoutes: FastifyPluginAsyncTypebox<UserRoutesOptions> = async (
  app,
  { users, directory, waitForPosition },
) => {
  app.addHook('preHandler', requireRight('admin'));
  const tags = ['users'];
  const problems = problemResponses(400, 401, 403, 404, 409);

  async function load(userId: number): Promise<ActiveUser> {
    const user = await users.getUser(userId);
    if (user.status !== 'active') throw notFound(userId);
    return user;
  }

  app.post(
    '/',
    {
      schema: {
        tags,
        summary: 'Create a user',
        body: CreateUserBody,
        response: { 201: UserSchema, ...problems },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const keys = (body.sshPublicKeys ?? []).map(parsePublicKey);
      const principal = principalOf(request);
      const { user, position } = await users.createUser(
        {
          userName: body.userName,
          emailAddress: body.emailAddress,
          firstName: body.firstName ?? '',
          lastName: body.lastName ?? '',
          password: body.password ?? null,
          rights: body.rights ?? [],
          ...(body.homeFolder === undefined ? {} : { homeFolder: body.homeFolder }),
          permissions: body.permissions ?? [],
          keys,
          quotaBytes: body.quotaBytes ?? null,
          maxFileBytes: body.maxFileBytes ?? null,
        },
        { kind: 'admin', userId: principal.session.userId },
        metadataFor(contextOf(request)),
      );
      reply.status(201).header('location', `/api/v1/users/${user.userId}`);
      return userBody(user, position);
    },
  );

  app.get(
    '/',
    {
      schema: {
        tags,
        summary: 'List users (filters, cursor paging in id order)',
        querystring: ListUsersQuery,
        response: { 200: UserPage, ...problems },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? 50;
      const after = decodeCursor(request.query.cursor, { userId: 'number' });
      await awaitView(waitForPosition, request.query.minPosition);
      const rows = await directory.list(request.query, after?.userId, limit);
      const items = rows.slice(0, limit);
      const last = items[items.length - 1];
      return {
        items,
        nextCursor: rows.length > limit && last ? encodeCursor({ userId: last.userId }) : null,
      };
    },
  );

  app.get(
    '/:userId',
    {
      schema: {
        tags,
        summary: 'One user',
        params: UserIdParams,
        response: { 200: UserSchema, ...problems },
      },
    },
    async (request) => userBody(await load(request.params.userId)),
  );

  app.patch(
    '/:userId',
    {
      schema: {
        tags,
        summary: 'Change a user: profile, rights, permissions, password, keys, enabled',
        params: UserIdParams,
        body: UpdateUserBody,
        response: { 200: UserSchema, ...problems },
      },
    },
    async (request) => {
      const { userId } = request.params;
      const body = request.body;
      const by = principalOf(request).session.userId;
      const metadata = metadataFor(contextOf(request));
      await load(userId);
      if (body.enabled === false && userId === by)
        throw new Problem(409, 'cannot-disable-self', 'Admins cannot disable their own account');
      const keys = body.sshPublicKeys?.map(parsePublicKey);
      const changes: Partial<UserChanges> = {};
      for (const field of [
        'emailAddress',
        'firstName',
        'lastName',
        'rights',
        'homeFolder',
        'permissions',
        'quotaBytes',
        'maxFileBytes',
      ] as const) {
        if (body[field] !== undefined) Object.assign(changes, { [field]: body[field] });
      }
      let position: number | null = null;
      const note = (p: number | null) => {
        if (p !== null) position = p;
      };
      if (Object.keys(changes).length > 0)
        note((await users.updateUser(userId, changes, by, metadata)).position);
      if (body.password !== undefined) note(await users.setPassword(userId, body.password, by, metadata));
      if (keys !== undefined) note(await users.replaceKeys(userId, keys, by, metadata));
      if (body.enabled !== undefined) note(await users.setEnabled(userId, body.enabled, by, metadata));
      return userBody(await load(userId), position);
    },
  );

  app.delete(
    '/:userId',
    {
      schema: {
        tags,
        summary: 'Delete a user (its name and e-mail address become free again)',
        params: UserIdParams,
        response: { 204: { type: 'null' }, ...problems },
      },
    },
    async (request, reply) => {
      const { userId } = request.params;
      if (userId === principalOf(request).session.userId)
        throw new Problem(409, 'cannot-delete-self', 'Admins cannot delete their own account');
      await load(userId);
      await users.deleteUser(userId, principalOf(request).session.userId, metadataFor(contextOf(request)));
      return reply.status(204).send(null);
    },
  );
};
