/** Query and answer schemas of the audit calls: validation, TypeScript types and OpenAPI. */
import { type Static, type TProperties, Type } from '@sinclair/typebox';
import { FreeText, Text } from '../../domain/events/schema-helpers.js';
import { auditOperations, auditOutcomes } from '../../projections/audit/rows.js';
import { Page, PageQuery } from '../paging.js';

const Position = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

export const Operation = Type.Union(
  auditOperations.map((o) => Type.Literal(o)),
  { description: 'What was done' },
);
export const Outcome = Type.Union(
  auditOutcomes.map((o) => Type.Literal(o)),
  {
    description:
      'success; failure (sign-in refused); denied (file operation refused); aborted (upload); started (a download whose end is recorded separately)',
  },
);

/** The filters every audit call takes (list, export, live stream). */
export const AuditFilterProperties = {
  operation: Type.Optional(
    Type.Array(Operation, {
      minItems: 1,
      maxItems: auditOperations.length,
      uniqueItems: true,
      description: 'One or several operations (repeat the parameter: operation=a&operation=b)',
    }),
  ),
  userId: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_147_483_647, description: 'Who did it' })),
  userName: Type.Optional(
    Text(254, 1, {
      description:
        'Case-insensitive prefix of the user name (also names tried in failed sign-ins); at most 100 names may match',
    }),
  ),
  applicationId: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_147_483_647 })),
  sessionId: Type.Optional(Type.String({ format: 'uuid' })),
  ip: Type.Optional(Text(64, 1, { description: 'Client address, exactly' })),
  userString: Type.Optional(
    FreeText(255, 1, {
      description: 'The external userString of OpenImmutableUserString sessions, exactly',
    }),
  ),
  path: Type.Optional(
    Text(4096, 1, {
      description: 'Prefix of the virtual path (for renames: the new path)',
    }),
  ),
  outcome: Type.Optional(Outcome),
  from: Type.Optional(Type.String({ format: 'date-time', description: 'Recorded at or after' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'Recorded before' })),
  untilPosition: Type.Optional({
    ...Position,
    description: 'Point-in-time replay: only rows at or below this global position, as the log stood then',
  }),
} satisfies TProperties;

const Order = (fallback: 'asc' | 'desc') =>
  Type.Optional(
    Type.Union([Type.Literal('asc'), Type.Literal('desc')], {
      default: fallback,
      description: `By global position; default ${fallback}`,
    }),
  );

export const AuditEventsQuery = Type.Object(
  { ...AuditFilterProperties, order: Order('desc'), ...PageQuery },
  { additionalProperties: false },
);
export type AuditEventsQueryType = Static<typeof AuditEventsQuery>;

export const AuditExportQuery = Type.Object(
  {
    format: Type.Union([Type.Literal('csv'), Type.Literal('ndjson')], {
      description: 'CSV (RFC 4180, header line) or newline-delimited JSON',
    }),
    spreadsheetSafe: Type.Optional(
      Type.Boolean({
        default: false,
        description:
          'CSV only: text cells that start with =, +, -, @, a tab or CR get a leading single quote, so a ' +
          'spreadsheet shows them as text instead of running them as formulas (OWASP CSV injection). Off by ' +
          'default: the file then holds values exactly as recorded.',
      }),
    ),
    ...AuditFilterProperties,
    order: Order('asc'),
    minPosition: PageQuery.minPosition,
  },
  { additionalProperties: false },
);
export type AuditExportQueryType = Static<typeof AuditExportQuery>;

export const AuditStreamQuery = Type.Object(
  {
    ...AuditFilterProperties,
    after: Type.Optional({
      ...Position,
      description:
        'Resume after this global position (as Last-Event-ID does; the header wins). Without either, the stream starts with rows recorded from now on',
    }),
  },
  { additionalProperties: false },
);
export type AuditStreamQueryType = Static<typeof AuditStreamQuery>;

const Nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Integer>>(t: T) =>
  Type.Union([t, Type.Null()]);

export const AuditItemSchema = Type.Object(
  {
    position: Type.Integer({ description: 'Global position of the event (the SSE id)' }),
    at: Type.String({ format: 'date-time', description: 'When the event was recorded' }),
    eventType: Type.String({ examples: ['FileUploaded'] }),
    operation: Type.String({ examples: ['file.upload'] }),
    outcome: Type.String({ examples: ['success'] }),
    userId: Nullable(Type.Integer()),
    userName: Nullable(Type.String()),
    applicationId: Nullable(Type.Integer()),
    sessionId: Nullable(Type.String({ format: 'uuid' })),
    clientIp: Nullable(Type.String()),
    userString: Nullable(Type.String()),
    protocol: Nullable(Type.String()),
    path: Nullable(Type.String()),
    previousPath: Nullable(Type.String({ description: 'A rename’s old path' })),
    size: Nullable(
      Type.Integer({ description: 'Bytes: uploaded, sent, deleted or received before an abort' }),
    ),
    sha256: Nullable(Type.String()),
    reason: Nullable(Type.String()),
    target: Nullable(
      Type.String({
        description: 'What an admin change is about: user:42, application:1000, session:<uuid>',
      }),
    ),
    detail: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()], {
      description: 'Further facts of the event',
    }),
  },
  { description: 'One auditable event' },
);
export type AuditItemBody = Static<typeof AuditItemSchema>;

export const AuditPage = Page(AuditItemSchema);
