/**
 * Errors as RFC 9457 problem details (`application/problem+json`), in one place: the Problem
 * that handlers throw, the mapping of the core's typed errors to problems (each rule that says
 * no has a stable `type`, `/problems/<slug>`, that clients may switch on; sign-in refusals never
 * tell an unknown user from a wrong password), and the one error handler through which every
 * failure leaves.
 */
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { InvalidPublicKey } from '../adapters/ssh/public-keys.js';
import { FileError, type FileErrorCode } from '../application/files/file-session.js';
import { type SignInFailureReason, SignInRefused, SignInThrottled } from '../application/sign-in.js';
import { DomainError } from '../domain/decider.js';
import { WrongExpectedRevision } from '../domain/event-store.js';
import { FilterTooBroad } from '../projections/audit/queries.js';

export const ProblemSchema = Type.Object(
  {
    type: Type.String({
      description: 'Stable identifier of the kind of problem',
      examples: ['/problems/validation'],
    }),
    title: Type.String(),
    status: Type.Integer({ minimum: 400, maximum: 599 }),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    errors: Type.Optional(
      Type.Array(Type.Object({ path: Type.String(), message: Type.String() }), {
        description: 'Each validation failure, for /problems/validation',
      }),
    ),
  },
  { $id: 'Problem', description: 'RFC 9457 problem details' },
);
export type ProblemBody = Static<typeof ProblemSchema>;

/** Thrown by handlers; the error handler turns it into a problem+json reply. */
export class Problem extends Error {
  override readonly name = 'Problem';
  constructor(
    readonly status: number,
    readonly slug: string,
    readonly title: string,
    readonly detail?: string,
    /** Response headers that belong with this problem (e.g. WWW-Authenticate on a 401). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(detail ?? title);
  }

  body(instance?: string): ProblemBody {
    return {
      type: `/problems/${this.slug}`,
      title: this.title,
      status: this.status,
      ...(this.detail === undefined ? {} : { detail: this.detail }),
      ...(instance === undefined ? {} : { instance }),
    };
  }
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Route-schema responses for the given error statuses, each a problem+json body. */
export function problemResponses<const S extends readonly number[]>(
  ...statuses: S
): Record<S[number], { $ref: 'Problem#' }> {
  return Object.fromEntries(statuses.map((status) => [status, { $ref: 'Problem#' as const }])) as Record<
    S[number],
    { $ref: 'Problem#' }
  >;
}

// ---- the core's errors as problems ---------------------------------------------------

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * A ticket call: its caller holds the site's secret and already knows the user it names,
     * so an unknown user is said as such (elsewhere it is an invalid credential).
     */
    ticketCall?: boolean;
  }
}

/**
 * The one place where the core's typed errors become HTTP problems. Each rule that says no
 * has a stable problem type; sign-in refusals never tell an unknown user from a wrong password.
 */

const signInProblems: Record<SignInFailureReason, [number, string, string]> = {
  'invalid-credentials': [401, 'invalid-credentials', 'The user name or password is wrong'],
  'unknown-user': [401, 'invalid-credentials', 'The user name or password is wrong'],
  'user-disabled': [401, 'invalid-credentials', 'The user name or password is wrong'],
  'unknown-application': [403, 'unknown-application', 'The application is not registered'],
  'application-disabled': [403, 'application-disabled', 'The application is disabled'],
  'ticket-malformed': [401, 'ticket-malformed', 'The ticket cannot be read'],
  'ticket-wrong-key': [401, 'ticket-wrong-key', 'The ticket was not made with this site’s secret'],
  'ticket-expired': [401, 'ticket-expired', 'The ticket is too old (or from the future)'],
  'ticket-replayed': [401, 'ticket-replayed', 'The ticket has already been used'],
  'ticket-wrong-site': [401, 'ticket-wrong-site', 'The ticket names another site'],
  'service-session-invalid': [401, 'service-session-invalid', 'The service session is not alive'],
  'missing-right': [403, 'missing-right', 'The service user may not impersonate'],
  'target-privileged': [
    403,
    'target-privileged',
    'Users holding admin, auditor or impersonate cannot be impersonated',
  ],
  'application-not-allowed': [
    403,
    'application-not-allowed',
    'A service may impersonate only within its own session’s application',
  ],
  'privileged-user': [
    401,
    'invalid-credentials',
    'Users holding admin, auditor or impersonate cannot sign in with a ticket',
  ],
  banned: [
    429,
    'too-many-failures',
    'Too many failed sign-ins from this address or for this user: try later',
  ],
  'ticket-mismatch': [
    401,
    'ticket-mismatch',
    'The ticket was minted for another application, e-mail address or name',
  ],
};

const domainProblems: Record<string, [number, string]> = {
  'user-unknown': [404, 'user-not-found'],
  'user-deleted': [404, 'user-not-found'],
  'user-exists': [409, 'user-exists'],
  'user-name-taken': [409, 'user-name-taken'],
  'email-address-taken': [409, 'email-address-taken'],
  'duplicate-key': [400, 'duplicate-key'],
  'invalid-user-name': [400, 'invalid-user-name'],
  'invalid-home-folder': [400, 'invalid-home-folder'],
  'stale-credential': [409, 'concurrent-change'],
  'application-id-reserved': [400, 'application-id-reserved'],
  'application-exists': [409, 'application-exists'],
  'application-unknown': [404, 'application-not-found'],
  'session-unknown': [404, 'session-not-found'],
  'session-ended': [409, 'session-ended'],
  'session-exists': [409, 'session-exists'],
  'close-forbidden': [403, 'forbidden'],
  'invalid-flow': [400, 'invalid-flow'],
  'flow-not-found': [404, 'flow-not-found'],
  'invalid-notifier': [400, 'invalid-notifier'],
  'notifier-not-found': [404, 'notifier-not-found'],
  'delivery-not-found': [404, 'delivery-not-found'],
  'delivery-not-dead': [409, 'delivery-not-dead'],
};

/** The file-operations core's errors, as HTTP sees them. */
const fileProblems: Record<FileErrorCode, [number, string]> = {
  'not-found': [404, 'file-not-found'],
  'permission-denied': [403, 'permission-denied'],
  'invalid-path': [400, 'invalid-path'],
  'already-exists': [412, 'already-exists'],
  'not-a-directory': [409, 'not-a-folder'],
  'is-a-directory': [409, 'is-a-folder'],
  'not-empty': [409, 'folder-not-empty'],
  'no-space': [507, 'no-space'],
  unsupported: [501, 'unsupported'],
  'too-many-handles': [503, 'too-busy'],
  'digest-mismatch': [400, 'digest-mismatch'],
  'too-large': [413, 'too-large'],
  'quota-exceeded': [507, 'quota-exceeded'],
  failure: [500, 'file-operation-failed'],
};

export function toProblem(error: unknown, options: { ticketCall?: boolean } = {}): Problem | undefined {
  if (error instanceof Problem) return error;
  if (options.ticketCall && error instanceof SignInRefused && error.reason === 'unknown-user')
    return new Problem(401, 'unknown-user', 'No user has the name or address the ticket call gave');
  if (error instanceof FileError) {
    const [status, slug] = fileProblems[error.code];
    return new Problem(status, slug, error.message);
  }
  if (error instanceof SignInThrottled) {
    const seconds = Math.max(1, Math.ceil((error.until.getTime() - Date.now()) / 1000));
    const [status, slug, title] = signInProblems.banned;
    return new Problem(status, slug, title, undefined, { 'retry-after': String(seconds) });
  }
  if (error instanceof SignInRefused) {
    const [status, slug, title] = signInProblems[error.reason];
    return new Problem(status, slug, title);
  }
  if (error instanceof DomainError) {
    const [status, slug] = domainProblems[error.code] ?? [409, error.code];
    return new Problem(status, slug, error.message);
  }
  if (error instanceof InvalidPublicKey) return new Problem(400, 'invalid-public-key', error.message);
  if (error instanceof FilterTooBroad)
    return new Problem(400, 'filter-too-broad', 'The user name prefix matches too many users', error.message);
  if (error instanceof WrongExpectedRevision) {
    return new Problem(409, 'concurrent-change', 'Too many concurrent changes; try again');
  }
  return undefined;
}

// ---- the error handler -------------------------------------------------------------------

function fromFastifyError(error: FastifyError): ProblemBody {
  if (error.validation) {
    return {
      type: '/problems/validation',
      title: 'The request is not valid',
      status: 400,
      detail: error.message,
      errors: error.validation.map((v) => ({
        path: `${error.validationContext ?? 'request'}${v.instancePath || ''}`,
        message: v.message ?? 'invalid',
      })),
    };
  }
  const status = error.statusCode ?? 500;
  if (status >= 500) {
    return { type: '/problems/internal', title: 'Internal server error', status };
  }
  const slug = (error.code ?? 'bad-request')
    .replace(/^FST_ERR_/, '')
    .toLowerCase()
    .replaceAll('_', '-');
  return { type: `/problems/${slug}`, title: error.message, status };
}

/**
 * Fastify's `frameworkErrors`: failures before routing (a URL whose percent-encoding is not
 * UTF-8, such as an encoded lone surrogate) leave as problem+json too (/problems/bad-url).
 */
export function frameworkProblem(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const body = fromFastifyError(error);
  body.instance = request.url;
  reply.status(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
}

export const problemsPlugin = fp(
  async (app: FastifyInstance) => {
    app.addSchema(ProblemSchema);
    app.setErrorHandler((error: FastifyError, request, reply) => {
      let body: ProblemBody;
      const problem = toProblem(error, { ticketCall: request.routeOptions.config?.ticketCall === true });
      if (problem) {
        body = problem.body(request.url);
        reply.headers(problem.headers);
      } else {
        body = fromFastifyError(error);
        body.instance = request.url;
      }
      if (body.status >= 500) request.log.error({ err: error }, 'request failed');
      reply.status(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
    });
    app.setNotFoundHandler((request, reply) => {
      reply
        .status(404)
        .type(PROBLEM_CONTENT_TYPE)
        .send({
          type: '/problems/not-found',
          title: 'No such resource',
          status: 404,
          detail: `${request.method} ${request.url.split('?')[0]} does not exist`,
          instance: request.url,
        } satisfies ProblemBody);
    });
  },
  { name: 'problems' },
);
