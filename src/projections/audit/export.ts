/**
 * The audit export: every row matching the filters as CSV (RFC 4180) or NDJSON, read in
 * keyset batches (each a short query, so a long export never holds a transaction open or a
 * rebuild's table swap back) and produced as a stream that is read only as fast as the client
 * takes it: memory stays at about two batches whatever the number of rows. PostgreSQL formats
 * the lines (queries.ts), so Node only passes text through.
 */
import type { Kysely } from 'kysely';
import type { ReadModel } from '../../adapters/readmodel/schema.js';
import { type AuditFilters, type AuditItem, exportLines } from './queries.js';

export const EXPORT_BATCH = 5000;

export const CSV_COLUMNS = [
  'position',
  'at',
  'eventType',
  'operation',
  'outcome',
  'userId',
  'userName',
  'applicationId',
  'sessionId',
  'clientIp',
  'userString',
  'protocol',
  'path',
  'previousPath',
  'size',
  'sha256',
  'reason',
  'target',
  'detail',
] as const satisfies ReadonlyArray<keyof AuditItem>;

/** Pages of lines, the next one already being read while the current one is written. */
async function* pages(
  db: Kysely<ReadModel>,
  filters: AuditFilters,
  order: 'asc' | 'desc',
  format: 'csv' | 'ndjson',
  options: ExportOptions,
): AsyncGenerator<Array<{ position: number; line: string }>> {
  const read = (after: number | undefined) => {
    const promise = exportLines(db, filters, { after, limit: EXPORT_BATCH, order }, format, options);
    // Handled where awaited; this only keeps an abandoned prefetch from being "unhandled".
    promise.catch(() => undefined);
    return promise;
  };
  let next = read(undefined);
  for (;;) {
    const rows = await next;
    const more = rows.length > EXPORT_BATCH;
    const page = more ? rows.slice(0, EXPORT_BATCH) : rows;
    const last = page.at(-1);
    if (more && last) next = read(last.position);
    if (page.length > 0) yield page;
    if (!more) return;
  }
}

export interface ExportOptions {
  /** CSV only: text cells starting with = + - @, tab or CR get a leading ' (OWASP CSV injection). */
  readonly spreadsheetSafe?: boolean;
}

/** The export's text, one chunk per batch. */
export async function* exportChunks(
  db: Kysely<ReadModel>,
  filters: AuditFilters,
  order: 'asc' | 'desc',
  format: 'csv' | 'ndjson',
  options: ExportOptions = {},
): AsyncGenerator<string> {
  if (format === 'csv') yield `${CSV_COLUMNS.join(',')}\r\n`;
  for await (const page of pages(db, filters, order, format, options)) {
    let chunk = '';
    for (const row of page) chunk += row.line;
    yield chunk;
  }
}
