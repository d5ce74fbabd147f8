/**
 * Audit reads are themselves audited: every query of the session and audit views (list,
 * detail, timeline, export, live stream) and of the sign-in bans records who asked and with which filters, in the
 * querier's stream `audit-queries-<userId>`.
 */
import { Type } from '@sinclair/typebox';
import { eventSchema, FreeText, UserId } from './schema-helpers.js';

export const AuditQueryKind = Type.Union(
  [
    'audit.events',
    'audit.export',
    'audit.stream',
    'sessions.list',
    'sessions.get',
    'sessions.timeline',
    'bans.list',
  ].map((k) => Type.Literal(k)),
);

/**
 * A filter's value as the caller sent it (one value, or several for repeatable filters). Text
 * may hold line breaks (a userString may); it is well-formed (src/domain/text.ts).
 */
const FilterText = FreeText(4096);
const FilterValue = Type.Union([
  FilterText,
  Type.Integer(),
  Type.Boolean(),
  Type.Array(FilterText, { maxItems: 100 }),
]);

export const AuditQueried = eventSchema('AuditQueried', {
  userId: UserId,
  query: AuditQueryKind,
  /** The filters, paging and format of the query (never a cursor's decoded secret: there is none). */
  filters: Type.Record(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9]{0,63}$' }), FilterValue, {
    maxProperties: 32,
  }),
});

/** Stream of one user's audit reads. */
export const auditQueriesStream = (userId: number) => `audit-queries-${userId}`;
