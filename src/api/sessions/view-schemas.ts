/** Query and answer schemas of the session views (list, one session, timeline). */
import { type Static, Type } from '@sinclair/typebox';
import { FreeText, Text } from '../../domain/events/schema-helpers.js';
import { AuditItemSchema } from '../audit/schemas.js';
import { Page, PageQuery } from '../paging.js';

const Uuid = Type.String({ format: 'uuid', examples: ['01937c2e-8a4b-7cde-9f01-23456789abcd'] });
const Nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Integer>>(t: T) =>
  Type.Union([t, Type.Null()]);

export const SessionKind = Type.Union([
  Type.Literal('replaceable'),
  Type.Literal('immutable'),
  Type.Literal('impersonated'),
  Type.Literal('user-string'),
]);

export const ListSessionsQuery = Type.Object(
  {
    userId: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_147_483_647 })),
    applicationId: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_147_483_647 })),
    kind: Type.Optional(SessionKind),
    state: Type.Optional(
      Type.Union(
        ['open', 'ended', 'closed', 'replaced', 'expired'].map((s) => Type.Literal(s)),
        { description: 'open, or ended (any way), or ended by close, replacement or expiry' },
      ),
    ),
    ip: Type.Optional(Text(64, 1, { description: 'The end user’s address' })),
    userString: Type.Optional(FreeText(255, 1)),
    from: Type.Optional(Type.String({ format: 'date-time', description: 'Opened at or after' })),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'Opened before' })),
    order: Type.Optional(
      Type.Union([Type.Literal('asc'), Type.Literal('desc')], {
        default: 'desc',
        description: 'By opening (global position of SessionOpened); default desc, newest first',
      }),
    ),
    ...PageQuery,
  },
  { additionalProperties: false },
);
export type ListSessionsQueryType = Static<typeof ListSessionsQuery>;

export const SessionIdParams = Type.Object({ sessionId: Uuid });

export const SessionQuery = Type.Object(
  { minPosition: PageQuery.minPosition },
  { additionalProperties: false },
);

export const TimelineQuery = Type.Object(
  {
    asOf: Type.Optional(
      Type.String({
        format: 'date-time',
        description: 'Point in time: only events recorded at or before it',
      }),
    ),
    untilPosition: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: Number.MAX_SAFE_INTEGER,
        description: 'Point in time: only events at or below this global position',
      }),
    ),
    ...PageQuery,
  },
  { additionalProperties: false },
);

export const SessionViewSchema = Type.Object({
  sessionId: Uuid,
  position: Type.Integer({ description: 'Global position of SessionOpened' }),
  userId: Type.Integer(),
  userName: Nullable(Type.String()),
  applicationId: Type.Integer(),
  applicationName: Nullable(Type.String()),
  kind: SessionKind,
  method: Type.String(),
  clientVersion: Nullable(Type.String()),
  clientIp: Type.String(),
  callerIp: Type.String({
    description: 'The address of the connection that asked (a service, for impersonation)',
  }),
  userString: Nullable(Type.String()),
  impersonator: Type.Union([
    Type.Object({ userId: Type.Integer(), userName: Nullable(Type.String()), sessionId: Uuid }),
    Type.Null(),
  ]),
  openedAt: Type.String({ format: 'date-time' }),
  expiresAt: Nullable(Type.String({ format: 'date-time' })),
  state: Type.Union([Type.Literal('open'), Type.Literal('ended')]),
  endedAt: Nullable(Type.String({ format: 'date-time' })),
  endReason: Type.Union(
    [
      Type.Literal('closed'),
      Type.Literal('superseded'),
      Type.Literal('replaced'),
      Type.Literal('expired'),
      Type.Null(),
    ],
    {
      description: 'closed; superseded (closed by a concurrent sign-in); replaced (see replacedBy); expired',
    },
  ),
  replacedBy: Nullable(Uuid),
  connections: Type.Integer(),
  uploads: Type.Integer(),
  downloads: Type.Integer(),
  deletes: Type.Integer(),
  bytesIn: Type.Integer({ description: 'Bytes of completed uploads' }),
  bytesOut: Type.Integer({ description: 'Bytes sent by downloads' }),
  lastActivityAt: Nullable(Type.String({ format: 'date-time' })),
});

export const SessionViewPage = Page(SessionViewSchema);
export const TimelinePage = Page(AuditItemSchema);
