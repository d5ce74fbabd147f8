/**
 * The one authentication path: `Authorization: Bearer <token>` (the secret returned by the call
 * that opened the session, never its public id), checked on every request (fail closed:
 * anything else is 401). Routes that need a right add `requireRight`.
 */
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { v7 as uuidv7 } from 'uuid';
import type { RequestContext } from '../application/ports.js';
import type { SignInService } from '../application/sign-in.js';
import type { ActiveUser } from '../application/users.js';
import type { SessionEndReason } from '../domain/sessions/liveness.js';
import type { SessionOpenedData } from '../domain/sessions/session.js';
import type { UserRight } from '../domain/users/user.js';
import { Problem } from './problems.js';

export interface Principal {
  readonly session: SessionOpenedData;
  readonly userName: string;
  readonly rights: readonly UserRight[];
  /** The user as it is now: home folder, permissions, keys. */
  readonly user: ActiveUser;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

const ended: Record<SessionEndReason, [string, string]> = {
  unknown: ['session-unknown', 'No session has this token'],
  closed: ['session-closed', 'The session was closed'],
  expired: ['session-expired', 'The session has expired'],
  idle: ['session-idle', 'The session ended after going unused for its idle timeout'],
  replaced: ['session-replaced', 'The session was replaced by a newer sign-in with the same application'],
  'user-disabled': ['user-disabled', 'The session’s user is disabled'],
  'user-deleted': ['user-deleted', 'The session’s user was deleted'],
  'credentials-changed': ['credentials-changed', 'The user’s password changed after the session opened'],
};

function unauthenticated(slug: string, title: string): Problem {
  return new Problem(401, slug, title, undefined, { 'www-authenticate': 'Bearer' });
}

/** The request as the core sees it: who, from which address and port, which request. */
export function contextOf(request: FastifyRequest): RequestContext {
  const principal = request.principal;
  return {
    correlationId: request.id,
    clientIp: request.ip,
    ...(request.socket.remotePort === undefined ? {} : { clientPort: request.socket.remotePort }),
    ...(principal
      ? {
          actor: {
            userId: principal.session.userId,
            applicationId: principal.session.applicationId,
            sessionId: principal.session.sessionId,
            userString: principal.session.userString,
          },
        }
      : {}),
  };
}

/** A new UUIDv7 per request: the correlation id of every event the request causes. */
export const requestId = () => uuidv7();

/** The bearer token of the request; 401 when there is none or the header is not `Bearer <token>`. */
export function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  if (header === undefined)
    throw unauthenticated('unauthenticated', 'Sign in and send Authorization: Bearer <token>');
  const match = /^Bearer ([\x21-\x7e]{1,200})$/i.exec(header);
  if (!match) throw unauthenticated('unauthenticated', 'The Authorization header is not Bearer <token>');
  return match[1]!;
}

export function authenticate(signIn: SignInService) {
  return async (request: FastifyRequest): Promise<void> => {
    const { liveness, user } = await signIn.authenticate(bearerToken(request));
    if (!liveness.alive || user.status !== 'active') {
      const [slug, title] = ended[liveness.alive ? 'user-deleted' : liveness.reason];
      throw unauthenticated(slug, title);
    }
    request.principal = { session: liveness.session, userName: user.userName, rights: user.rights, user };
  };
}

/**
 * The caller, in a route of the authenticated scope (api/v1.ts), where `authenticate` has run
 * before every handler.
 */
export function principalOf(request: FastifyRequest): Principal {
  const principal = request.principal;
  if (!principal) throw unauthenticated('unauthenticated', 'Sign in first');
  return principal;
}

export function requireRight(...rights: UserRight[]) {
  return async (request: FastifyRequest): Promise<void> => {
    const held = request.principal?.rights ?? [];
    if (!rights.some((r) => held.includes(r))) {
      throw new Problem(403, 'forbidden', `This call needs the ${rights.join(' or ')} right`);
    }
  };
}

/** Declares `request.principal` (null until `authenticate` runs). */
export const principalPlugin = fp(
  async (app) => {
    app.decorateRequest('principal', null);
  },
  { name: 'principal' },
);
