/**
 * What the session and audit views share: their dependencies, who may see what (admins and
 * auditors everything, anyone else their own sessions and events), recording each query as
 * an AuditQueried event, and checks of filters that a schema cannot express.
 */
import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { ReadModel } from '../../adapters/readmodel/schema.js';
import type { AuditQuery, AuditReads } from '../../application/audit-reads.js';
import { truncateText } from '../../domain/text.js';
import type { AuditItem } from '../../projections/audit/queries.js';
import { contextOf, type Principal } from '../auth.js';
import { decodeCursor, encodeCursor } from '../paging.js';
import { Problem } from '../problems.js';
import type { AuditItemBody } from './schemas.js';

export interface ViewDependencies {
  /** The read model (sessions, audit_events, users, applications). */
  readonly db: Kysely<ReadModel>;
  /** Where audit reads are recorded. */
  readonly auditReads: AuditReads;
  /** The audit view's position as this process last saw it committed. */
  readonly auditPosition: () => number;
  /** Resolves true once the audit view reaches `position`, false after `timeoutMs`. */
  readonly waitForAudit: (position: number, timeoutMs: number) => Promise<boolean>;
}

type QueryKind = AuditQuery['query'];
type FilterValue = AuditQuery['filters'][string];

/** Admins and auditors see every session and event; other users only their own. */
export function seesEverything(principal: Principal): boolean {
  return principal.rights.includes('admin') || principal.rights.includes('auditor');
}

/**
 * The user whose rows a query may return: the filter as given for admins and auditors, the
 * caller for anyone else (asking for another user's rows is refused).
 */
export function scopedUserId(principal: Principal, requested: number | undefined): number | undefined {
  if (seesEverything(principal)) return requested;
  const own = principal.session.userId;
  if (requested !== undefined && requested !== own) {
    throw new Problem(403, 'forbidden', 'Only admins and auditors may see other users’ sessions and events');
  }
  return own;
}

/** Records the query (who, which filters) before it is answered. */
export async function recordQuery(
  auditReads: AuditReads,
  request: FastifyRequest,
  query: QueryKind,
  parameters: Record<string, unknown>,
): Promise<void> {
  const principal = request.principal;
  if (!principal) throw new Error('recordQuery needs an authenticated request');
  const filters: Record<string, FilterValue> = {};
  for (const [key, value] of Object.entries(parameters)) {
    if (value === undefined || key === 'cursor') continue;
    if (typeof value === 'number' || typeof value === 'boolean') filters[key] = value;
    else if (Array.isArray(value)) filters[key] = value.map((v) => truncateText(String(v), 4096));
    else filters[key] = truncateText(String(value), 4096);
  }
  await auditReads.record({ userId: principal.session.userId, query, filters }, contextOf(request));
}

/** `from` and `to` as dates; `from` after `to` is a 400. */
export function timeRange(from: string | undefined, to: string | undefined): { from?: Date; to?: Date } {
  const start = from === undefined ? undefined : new Date(from);
  const end = to === undefined ? undefined : new Date(to);
  if (start && end && start.getTime() > end.getTime()) {
    throw new Problem(
      400,
      'invalid-time-range',
      'The time range ends before it starts',
      `from ${from} is after to ${to}`,
    );
  }
  return { ...(start ? { from: start } : {}), ...(end ? { to: end } : {}) };
}

/** An audit row as the JSON answers show it (detail parsed). */
export function auditItemBody(item: AuditItem): AuditItemBody {
  return {
    ...item,
    detail: item.detail === null ? null : (JSON.parse(item.detail) as Record<string, unknown>),
  };
}

/** A position cursor: the last position a page showed and the order it was read in. */
export function readCursor(cursor: string | undefined, order: 'asc' | 'desc'): number | undefined {
  const key = decodeCursor(cursor, { position: 'number', order: 'string' });
  if (key === undefined) return undefined;
  if ((key.order !== 'asc' && key.order !== 'desc') || key.position < 0) {
    throw new Problem(400, 'invalid-cursor', 'The cursor is not one this API gave out');
  }
  if (key.order !== order) {
    throw new Problem(400, 'invalid-cursor', 'The cursor belongs to a listing in the other order');
  }
  return key.position;
}

/** The next page's cursor, or null on the last page. */
export function nextCursor(
  more: boolean,
  lastPosition: number | undefined,
  order: 'asc' | 'desc',
): string | null {
  return more && lastPosition !== undefined ? encodeCursor({ position: lastPosition, order }) : null;
}
