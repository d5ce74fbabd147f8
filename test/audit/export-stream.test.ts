/**
 * GET /api/v1/audit/export (CSV and NDJSON, streamed in batches, with the list's filters) and
 * GET /api/v1/audit/stream (Server-Sent Events, resumable with Last-Event-ID).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { HEARTBEAT_MS } from '../../src/api/audit/stream.js';
import { toNewEvent } from '../../src/domain/events/catalogue.js';
import { EXPORT_BATCH } from '../../src/projections/audit/export.js';
import { call, startTestSluice, type TestSluice } from '../support/sluice.js';
import { createWorld, type Opened, uploaded, type World } from './support.js';

type Item = Record<string, unknown> & { position: number; operation: string };
type Page = { items: Item[]; nextCursor: string | null };

let t: TestSluice;
let w: World;
let alice: Opened;
let gateway: Opened;
let last = 0;

const QUOTED_PATH = '/in/a,b "quoted", c.csv';
/** A userString may hold a line break (an external person's description). */
const USER_STRING = 'Doe, Jane "JD"\r\nPartner <jane@partner.example>';

async function listAll(query: string): Promise<Item[]> {
  const items: Item[] = [];
  let cursor: string | null = null;
  do {
    const page: { body: Page } = await call<Page>(
      t.base,
      'GET',
      `/api/v1/audit/events?limit=500&order=asc&minPosition=${last}&${query}${cursor ? `&cursor=${cursor}` : ''}`,
      { token: w.admin },
    );
    items.push(...page.body.items);
    cursor = page.body.nextCursor;
  } while (cursor);
  return items;
}

async function exportText(
  query: string,
  token = w.admin,
): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(`${t.base}/api/v1/audit/export?minPosition=${last}&${query}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** RFC 4180 parsing, enough for the test: quoted fields with doubled quotes and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i += 1;
    } else field += c;
  }
  assert.equal(field, '', 'the text ends with a line break');
  return rows;
}

before(async () => {
  t = await startTestSluice();
  w = await createWorld(t);
  assert.equal(
    (
      await call(t.base, 'POST', '/api/v1/applications', {
        token: w.admin,
        body: { applicationId: 1000, name: 'Partner portal' },
      })
    ).status,
    201,
  );
  await w.createUser('alice');
  await w.createUser('gateway');
  alice = await w.open('alice', 1000);
  gateway = await w.openUserString('gateway', 1000, USER_STRING);
  const a = await w.actorOf(alice);
  await w.append(uploaded('/in/plain.txt', 'plain'), a);
  await w.append(uploaded(QUOTED_PATH, 'quoted'), a);
  const g = await w.actorOf(gateway);
  await w.append(uploaded('/out/x.csv', 'x'), g);
  await w.append(uploaded(QUOTED_PATH, 'again'), g);
  // A line break alone (no comma, no quote) must be quoted too.
  const lines = await w.openUserString('gateway', 1000, 'Jane\nDoe');
  last = await w.append(uploaded('/out/lines.txt', 'lines'), await w.actorOf(lines));
  await w.settle(last);
});

after(async () => {
  await w?.close();
  await t?.stop();
});

describe('GET /api/v1/audit/export', () => {
  it('CSV: a header, then the same rows as the list; commas, quotes and line breaks in paths and userStrings quoted', async () => {
    const query = 'operation=file.upload&operation=session.open';
    const res = await exportText(`format=csv&${query}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/csv; charset=utf-8');
    assert.match(res.headers.get('content-disposition') ?? '', /^attachment; filename="audit-.*\.csv"$/);
    assert.ok(res.text.includes('"/in/a,b ""quoted"", c.csv"'));
    assert.ok(res.text.includes('"Doe, Jane ""JD""\r\nPartner <jane@partner.example>"'));
    const [header, ...rows] = parseCsv(res.text);
    assert.deepEqual(header?.slice(0, 5), ['position', 'at', 'eventType', 'operation', 'outcome']);
    const listed = await listAll(query);
    assert.equal(rows.length, listed.length);
    const column = (name: string) => header!.indexOf(name);
    for (const [i, row] of rows.entries()) {
      const item = listed[i]!;
      assert.equal(row[column('position')], String(item.position));
      assert.equal(row[column('path')], item.path ?? '');
      assert.equal(row[column('userString')], item.userString ?? '');
      assert.equal(row[column('sha256')], item.sha256 ?? '');
      assert.equal(row[column('at')], item.at);
    }
    const gw = rows.filter((r) => r[column('userString')] === USER_STRING);
    assert.equal(gw.length, 3, 'the session opening and both uploads carry the userString');
    assert.ok(rows.some((r) => r[column('path')] === QUOTED_PATH));
    assert.ok(res.text.includes(',"Jane\nDoe",'), 'a line break alone is quoted');
    assert.equal(rows.filter((r) => r[column('userString')] === 'Jane\nDoe').length, 2);
  });

  it('NDJSON: one JSON object per line, equal to the list’s items', async () => {
    const res = await exportText(`format=ndjson&sessionId=${gateway.sessionId}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson; charset=utf-8');
    assert.ok(res.text.endsWith('\n'));
    const lines = res.text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Item);
    const listed = (await listAll(`sessionId=${gateway.sessionId}`)).filter((i) => i.position <= last);
    assert.deepEqual(
      lines.filter((i) => i.position <= last),
      listed,
    );
  });

  it('descending on request, bounded by untilPosition, scoped for non-auditors', async () => {
    const res = await exportText(`format=ndjson&order=desc&operation=file.upload&untilPosition=${last - 1}`);
    const positions = res.text
      .trimEnd()
      .split('\n')
      .map((l) => (JSON.parse(l) as Item).position);
    assert.deepEqual(
      positions,
      [...positions].sort((a, b) => b - a),
    );
    assert.ok(positions.every((p) => p < last));
    assert.equal(positions.length, 4);
    const byString = await exportText(`format=ndjson&userString=${encodeURIComponent(USER_STRING)}`);
    assert.equal(
      byString.text.trimEnd().split('\n').length,
      3,
      'a userString with a line break, as a filter',
    );
    const own = await exportText('format=ndjson&operation=file.upload', alice.token);
    const mine = own.text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Item);
    assert.equal(mine.length, 2);
    assert.ok(mine.every((i) => i.sessionId === alice.sessionId));
  });

  it(`streams more rows than one batch (${EXPORT_BATCH}) to a slow reader, each once, in order`, async () => {
    const session = await w.open('alice', 1000);
    const actor = await w.actorOf(session);
    const total = EXPORT_BATCH * 2 + 123;
    let position = 0;
    for (let start = 0; start < total; start += 5000) {
      const batch = [];
      for (let i = start; i < Math.min(total, start + 5000); i += 1) {
        batch.push(
          toNewEvent(uploaded(`/bulk/${i},"${i}".dat`, `content ${i}`), {
            envelopeVersion: 1,
            correlationId: randomUUID(),
            actor,
          }),
        );
      }
      position = (await w.store.appendToStream(`bulk-${randomUUID()}`, batch)).lastPosition;
    }
    await w.settle(position);
    const res = await fetch(
      `${t.base}/api/v1/audit/export?format=csv&sessionId=${session.sessionId}&operation=file.upload`,
      { headers: { authorization: `Bearer ${w.admin}` } },
    );
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    for (let chunk = 0; ; chunk += 1) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (chunk % 20 === 0) await new Promise((r) => setTimeout(r, 5)); // a slow client
    }
    const rows = parseCsv(text).slice(1);
    assert.equal(rows.length, total);
    const positions = rows.map((r) => Number(r[0]));
    assert.equal(new Set(positions).size, total);
    assert.deepEqual(
      positions,
      [...positions].sort((a, b) => a - b),
    );
    assert.equal(rows[7]?.[12], '/bulk/7,"7".dat');
  });

  it('refuses an unknown format, an inverted range and unknown filters with problem+json 400', async () => {
    for (const query of [
      'format=xml',
      'format=csv&from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z',
      'format=csv&x=1',
      '',
    ]) {
      const res = await exportText(query);
      assert.equal(res.status, 400, query);
      assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    }
  });
});

interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
}

/** An SSE client over fetch: collects events as they arrive. */
function subscribe(query: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const received: SseEvent[] = [];
  let status = 0;
  let resolveOpen!: () => void;
  const opened = new Promise<void>((r) => {
    resolveOpen = r;
  });
  const done = (async () => {
    const res = await fetch(`${t.base}/api/v1/audit/stream?${query}`, {
      headers: { authorization: `Bearer ${w.admin}`, accept: 'text/event-stream', ...headers },
      signal: controller.signal,
    });
    status = res.status;
    resolveOpen();
    if (!res.ok || !res.body) return await res.text();
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { done: end, value } = await reader.read();
        if (end) break;
        buffer += decoder.decode(value, { stream: true });
        let cut = buffer.indexOf('\n\n');
        while (cut >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event: SseEvent = {};
          for (const line of block.split('\n')) {
            const colon = line.indexOf(':');
            if (colon <= 0) continue;
            const field = line.slice(0, colon) as keyof SseEvent;
            event[field] = line.slice(colon + 1).replace(/^ /, '');
          }
          if (event.data !== undefined) received.push(event);
          cut = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // aborted
    }
    return '';
  })();
  return {
    received,
    opened: opened.then(() => status),
    async waitFor(count: number, timeoutMs = 10_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (received.filter((e) => e.event === 'audit').length < count) {
        if (Date.now() > deadline) assert.fail(`expected ${count} events, got ${JSON.stringify(received)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    audits: () => received.filter((e) => e.event === 'audit').map((e) => JSON.parse(e.data!) as Item),
    close: async () => {
      controller.abort();
      await done.catch(() => undefined);
    },
    done,
  };
}

describe('GET /api/v1/audit/stream', () => {
  it('sends new matching rows as they are recorded, and resumes with Last-Event-ID without a gap or a repeat', async () => {
    const session = await w.open('alice', 1000);
    const actor = await w.actorOf(session);
    const other = await w.actorOf(alice);
    const old = await w.append(uploaded('/before/stream.txt', 'old'), actor); // before the stream: not sent
    // Visible to readers first (other databases' transactions in the test cluster can hold the
    // log's visibility back a moment): a stream without Last-Event-ID starts at the visible head.
    await w.settle(old);
    const filter = `sessionId=${session.sessionId}&operation=file.upload`;
    const first = subscribe(filter);
    assert.equal(await first.opened, 200);
    await new Promise((r) => setTimeout(r, 200));
    const sent: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      sent.push(await w.append(uploaded(`/live/${i}.txt`, `live ${i}`), actor));
      await w.append(uploaded(`/noise/${i}.txt`, 'noise'), other); // another session: filtered out
    }
    await first.waitFor(3);
    const got = first.audits();
    assert.deepEqual(
      got.map((i) => i.position),
      sent,
    );
    assert.deepEqual(
      first.received.filter((e) => e.event === 'audit').map((e) => Number(e.id)),
      sent,
      'the SSE id is the global position',
    );
    assert.equal(got[0]?.path, '/live/0.txt');
    await first.close();

    // Missed while disconnected.
    for (let i = 3; i < 6; i += 1) sent.push(await w.append(uploaded(`/live/${i}.txt`, `live ${i}`), actor));
    const resumed = subscribe(filter, { 'last-event-id': String(sent[2]) });
    await resumed.waitFor(3);
    sent.push(await w.append(uploaded('/live/6.txt', 'live 6'), actor));
    await resumed.waitFor(4);
    assert.deepEqual(
      resumed.audits().map((i) => i.position),
      sent.slice(3),
    );
    await resumed.close();

    const byQuery = subscribe(`${filter}&after=${sent[4]}`);
    await byQuery.waitFor(2);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(
      byQuery.audits().map((i) => i.position),
      sent.slice(5),
    );
    await byQuery.close();
  });

  it('ends as soon as the caller’s session is closed or replaced, not at the next heartbeat', async () => {
    for (const end of ['close', 'replace'] as const) {
      const session = await w.open('alice', 1000);
      const started = Date.now();
      const stream = subscribe('operation=file.upload', { authorization: `Bearer ${session.token}` });
      assert.equal(await stream.opened, 200);
      if (end === 'close') {
        const closed = await call(t.base, 'POST', '/api/v1/sessions/close', { token: session.token });
        assert.equal(closed.status, 200);
      } else {
        // Open replaces alice's replaceable session for the same application.
        await w.open('alice', 1000);
      }
      await stream.done;
      assert.deepEqual(stream.received.at(-1), { event: 'end', data: '{"reason":"session ended"}' }, end);
      // Seen from the view's rows, well before the first heartbeat's liveness check.
      assert.ok(Date.now() - started < HEARTBEAT_MS, `${end}: ended after ${Date.now() - started} ms`);
    }
  });

  it('ends at untilPosition with an end event', async () => {
    const session = await w.open('alice', 1000);
    const actor = await w.actorOf(session);
    const a = await w.append(uploaded('/bounded/1', '1'), actor);
    const b = await w.append(uploaded('/bounded/2', '2'), actor);
    await w.settle(b);
    const stream = subscribe(
      `sessionId=${session.sessionId}&operation=file.upload&after=0&untilPosition=${a}`,
    );
    await stream.done;
    assert.deepEqual(
      stream.audits().map((i) => i.position),
      [a],
    );
    assert.equal(stream.received.at(-1)?.event, 'end');
  });

  it('refuses a malformed Last-Event-ID and unknown filters', async () => {
    const bad = subscribe('operation=file.upload', { 'last-event-id': 'yesterday' });
    assert.equal(await bad.opened, 400);
    assert.match(await bad.done, /invalid-last-event-id/);
    const unknown = subscribe('colour=red');
    assert.equal(await unknown.opened, 400);
    await unknown.done;
  });
});
