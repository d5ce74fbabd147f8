/** The one error handler: every failure leaves as application/problem+json with a stable type. */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { toProblem } from '../errors.js';
import { PROBLEM_CONTENT_TYPE, type ProblemBody, ProblemSchema } from '../problem.js';

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
      const problem = toProblem(error);
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
