/**
 * The live audit stream (Server-Sent Events). It follows the audit view, not the log: each
 * time the view's position moves, it reads the matching rows between the last position it
 * covered and the view's position (keyset, in order), so a row is sent once, in order, and a
 * client resuming with Last-Event-ID receives every row after it.
 *
 * Writes respect back-pressure (a slow client holds the stream back, not the server's memory);
 * the stream ends when the client goes, when the caller's session ends or the server closes.
 * A session's end is seen as soon as the audit view records it (closed, expired, replaced, its
 * user disabled or deleted), and confirmed from the log; an idle expiry, which no event
 * announces, is caught by the check made with each heartbeat.
 */
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type AuditFilters, queryAudit } from '../../projections/audit/queries.js';
import type { ViewDependencies } from './access.js';
import { auditItemBody } from './access.js';

export type AuditStreams = Set<AbortController>;

const BATCH = 500;
export const HEARTBEAT_MS = 15_000;
/** Reads at most this often while the view moves (many small batches become one read). */
const MIN_READ_INTERVAL_MS = 100;
/** The longest single wait for the view (short, so an ended stream leaves no long timer). */
const WAIT_SLICE_MS = 1000;

export interface StreamOptions {
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
  readonly views: ViewDependencies;
  readonly filters: AuditFilters;
  /** Send rows after this position. */
  readonly after: number;
  readonly streams: AuditStreams;
  /** Whether the caller's session is still alive (checked with each heartbeat). */
  readonly alive: () => Promise<boolean>;
  /** Whether the view recorded the end of the caller's session between two positions. */
  readonly endedBetween: (after: number, until: number) => Promise<boolean>;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  delay(ms, undefined, { signal }).catch(() => undefined);

/** Settles when `promise` settles or `signal` aborts, whichever comes first; never rejects. */
function untilAborted(promise: Promise<unknown>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    promise.then(done, done);
  });
}

export async function streamAudit(options: StreamOptions): Promise<void> {
  const { reply, views, filters, streams } = options;
  const controller = new AbortController();
  const signal = controller.signal;
  streams.add(controller);
  const raw = reply.raw;
  reply.hijack();
  const abort = () => controller.abort();
  raw.on('close', abort);

  /** Writes, waiting while the client's buffer is full; false once the stream is over. */
  const write = async (text: string): Promise<boolean> => {
    if (signal.aborted || raw.destroyed) return false;
    if (raw.write(text)) return true;
    await untilAborted(once(raw, 'drain'), signal);
    return !signal.aborted && !raw.destroyed;
  };

  try {
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    await write(`retry: 2000\n: following the audit view from position ${options.after}\n\n`);
    let covered = options.after;
    let nextHeartbeat = Date.now() + HEARTBEAT_MS;
    const limit = filters.untilPosition;
    while (!signal.aborted) {
      const head = views.auditPosition();
      const until = limit === undefined ? head : Math.min(head, limit);
      if (until > covered) {
        if ((await options.endedBetween(covered, until)) && !(await options.alive())) {
          await write('event: end\ndata: {"reason":"session ended"}\n\n');
          break;
        }
        const rows = await queryAudit(
          views.db,
          { ...filters, untilPosition: until },
          { after: covered, limit: BATCH, order: 'asc' },
        );
        const page = rows.slice(0, BATCH);
        let text = '';
        for (const row of page) {
          text += `id: ${row.position}\nevent: audit\ndata: ${JSON.stringify(auditItemBody(row))}\n\n`;
        }
        if (text && !(await write(text))) break;
        // All matching rows up to `until` are sent unless the page was full.
        covered = rows.length > BATCH ? (page.at(-1)?.position ?? covered) : until;
        if (rows.length > BATCH) continue;
      }
      if (limit !== undefined && covered >= limit) {
        await write('event: end\ndata: {"reason":"untilPosition reached"}\n\n');
        break;
      }
      if (Date.now() >= nextHeartbeat) {
        if (!(await options.alive())) {
          await write('event: end\ndata: {"reason":"session ended"}\n\n');
          break;
        }
        if (!(await write(': heartbeat\n\n'))) break;
        nextHeartbeat = Date.now() + HEARTBEAT_MS;
      }
      await sleep(MIN_READ_INTERVAL_MS, signal);
      if (views.auditPosition() <= covered) {
        const wait = Math.min(WAIT_SLICE_MS, Math.max(1, nextHeartbeat - Date.now()));
        await untilAborted(views.waitForAudit(covered + 1, wait), signal);
      }
    }
  } catch (error) {
    options.request.log.warn({ err: error }, 'audit stream failed');
  } finally {
    streams.delete(controller);
    raw.off('close', abort);
    if (!raw.destroyed) raw.end();
  }
}
