/** Keyset paging: `{items, nextCursor}` with an opaque cursor that names the last key seen. */
import { type TSchema, Type } from '@sinclair/typebox';
import { Text } from '../domain/events/schema-helpers.js';
import { Problem } from './problems.js';

export const MAX_PAGE_SIZE = 500;

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: 50 })),
  cursor: Type.Optional(Text(512, 0, { description: 'nextCursor of the previous page' })),
  minPosition: Type.Optional(
    Type.Integer({
      minimum: 0,
      description:
        'Answer only once the view includes this global position (the `position` a command returned)',
    }),
  ),
};

/** How long a query waits for its view to reach `minPosition` before answering 503. */
export const MAX_VIEW_WAIT_MS = 5000;

/** Read-your-writes: waits (bounded) until the views have caught up with `minPosition`. */
export async function awaitView(
  waitForPosition: (position: number, timeoutMs: number) => Promise<boolean>,
  minPosition: number | undefined,
): Promise<void> {
  if (minPosition === undefined || minPosition === 0) return;
  if (!(await waitForPosition(minPosition, MAX_VIEW_WAIT_MS))) {
    throw new Problem(503, 'view-behind', `The view has not reached position ${minPosition} yet; try again`);
  }
}

export const Page = <T extends TSchema>(item: T) =>
  Type.Object({
    items: Type.Array(item),
    nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Null on the last page' }),
  });

export function encodeCursor(key: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** The key inside a cursor, checked field by field; anything else is a 400. */
export function decodeCursor<K extends Record<string, 'string' | 'number'>>(
  cursor: string | undefined,
  shape: K,
): { [P in keyof K]: K[P] extends 'number' ? number : string } | undefined {
  if (cursor === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  const ok =
    typeof value === 'object' &&
    value !== null &&
    Object.keys(value).length === Object.keys(shape).length &&
    Object.entries(shape).every(([k, t]) => {
      const v = (value as Record<string, unknown>)[k];
      return t === 'number' ? Number.isSafeInteger(v) : typeof v === 'string';
    });
  if (!ok) throw new Problem(400, 'invalid-cursor', 'The cursor is not one this API gave out');
  return value as { [P in keyof K]: K[P] extends 'number' ? number : string };
}

/**
 * One page of what `list` returns in position order after the cursor's position (the views
 * of definitions: flows, notifiers), waiting first for `minPosition`; `show` shapes each row.
 */
export async function pageByPosition<Row extends { readonly position: number }, Item>(
  query: { readonly limit?: number; readonly cursor?: string; readonly minPosition?: number },
  waitForPosition: (position: number, timeoutMs: number) => Promise<boolean>,
  list: (after: number, limit: number) => Promise<Row[]>,
  show: (row: Row) => Item,
): Promise<{ items: Item[]; nextCursor: string | null }> {
  const limit = query.limit ?? 50;
  await awaitView(waitForPosition, query.minPosition);
  const after = decodeCursor(query.cursor, { position: 'number' })?.position ?? 0;
  const rows = await list(after, limit + 1);
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return {
    items: items.map(show),
    nextCursor: rows.length > limit && last ? encodeCursor({ position: last.position }) : null,
  };
}
