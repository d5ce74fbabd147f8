/**
 * Errors as RFC 9457 problem details (`application/problem+json`). Each kind of failure has a
 * stable `type` URI reference (`/problems/<slug>`) that clients may switch on.
 */
import { type Static, Type } from '@sinclair/typebox';

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
