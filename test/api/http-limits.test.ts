/**
 * Limits of the HTTP server, with raw sockets and curl as clients: slow headers and slow bodies
 * are cut by the header and request timeouts (set short here), connections past the cap are
 * closed at once, and a user's live audit streams past the cap get 429.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { curl } from '../support/curl.js';
import { adminSession, call, startTestSluice, type TestSluice } from '../support/sluice.js';

const PASSWORD = 'http-limits-password';

async function refusals(base: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(/^sluice_refusals_total\{reason="([a-z-]+)"\} (\d+)$/gm)) {
    counts[match[1]!] = Number(match[2]);
  }
  return counts;
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`never happened: ${what}`);
}

/**
 * Opens `count` connections one after another (from `localAddress` if given), each sending half
 * a request so it stays busy; `outcomes` resolve with what the server sent before closing each.
 */
async function halfRequests(
  base: string,
  count: number,
  localAddress?: string,
): Promise<{ sockets: net.Socket[]; outcomes: Array<Promise<string>> }> {
  const url = new URL(base);
  const sockets: net.Socket[] = [];
  const outcomes: Array<Promise<string>> = [];
  for (let i = 0; i < count; i++) {
    const socket = net.connect({
      host: url.hostname,
      port: Number(url.port),
      ...(localAddress ? { localAddress } : {}),
    });
    socket.on('error', () => {});
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
    });
    outcomes.push(new Promise((resolve) => socket.once('close', () => resolve(received))));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write('GET /healthz HTTP/1.1\r\nHost: sluice\r\n');
    sockets.push(socket);
  }
  return { sockets, outcomes };
}

interface Trickle {
  /** What the server sent before it closed the connection. */
  readonly answer: Promise<string>;
}

/**
 * Sends `head` on a raw connection, then `drip` every 200 ms (so the connection is never idle)
 * until the server closes it; fails if it is still open after 150 drips (30 s, half of Node's default header timeout).
 */
function trickle(base: string, head: string, drip: string): Trickle {
  const url = new URL(base);
  const socket = net.connect({ host: url.hostname, port: Number(url.port) });
  let received = '';
  let closed = false;
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
  });
  socket.on('error', () => {});
  const answer = new Promise<string>((resolve, reject) => {
    socket.once('close', () => {
      closed = true;
      resolve(received);
    });
    socket.once('connect', async () => {
      socket.write(head);
      for (let i = 0; i < 150 && !closed; i++) {
        await new Promise((r) => setTimeout(r, 200));
        if (!closed) socket.write(drip);
      }
      if (!closed) {
        socket.destroy();
        reject(new Error('the server kept the slow request open'));
      }
    });
  });
  return { answer };
}

describe('HTTP header and request timeouts, audit streams per user', () => {
  let t: TestSluice;
  let admin: string;
  let token: string;
  before(async () => {
    t = await startTestSluice({
      env: {
        MFT_HTTP_HEADERS_TIMEOUT_SECONDS: '2',
        MFT_HTTP_REQUEST_TIMEOUT_SECONDS: '3',
        MFT_AUDIT_MAX_STREAMS_PER_USER: '2',
      },
    });
    admin = await adminSession(t.base);
    const res = await call(t.base, 'POST', '/api/v1/users', {
      token: admin,
      body: { userName: 'sloane', emailAddress: 'sloane@example.com', password: PASSWORD, permissions: [] },
    });
    assert.equal(res.status, 201);
    const opened = await call<{ token: string }>(t.base, 'POST', '/api/v1/sessions/open-immutable', {
      body: { userName: 'sloane', password: PASSWORD, applicationId: 2 },
    });
    assert.equal(opened.status, 201);
    token = opened.body.token;
  });
  after(() => t.stop());

  it('cuts a client that sends its headers one line at a time', async () => {
    const answer = await trickle(t.base, 'GET /healthz HTTP/1.1\r\nHost: sluice\r\n', 'X-Slow: 1\r\n').answer;
    assert.ok(answer === '' || answer.startsWith('HTTP/1.1 408'), answer);
  });

  it('cuts an upload whose body trickles in; the upload is recorded as aborted and nothing is kept', async () => {
    const head =
      'PUT /api/v1/files/slow.bin HTTP/1.1\r\nHost: sluice\r\n' +
      `Authorization: Bearer ${token}\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n`;
    await trickle(t.base, head, 'x').answer;
    const { pool } = t.database.open({ max: 1 });
    await until(
      async () =>
        (
          await pool.query(
            "SELECT 1 FROM events WHERE type = 'UploadAborted' AND data->>'path' = '/slow.bin'",
          )
        ).rowCount === 1,
      'UploadAborted for /slow.bin',
    );
    assert.deepEqual(await readdir(path.join(t.dataDir, 'files', 'sloane')), []);
    assert.deepEqual(
      (await readdir(path.join(t.dataDir, 'uploads'))).filter((n) => n.endsWith('.part')),
      [],
    );
  });

  it('answers a third simultaneous audit stream of one user with 429, and admits one again when a stream ends', async () => {
    const open = async (
      bearer = admin,
    ): Promise<{ status: number; controller: AbortController; type: string | null }> => {
      const controller = new AbortController();
      const res = await fetch(`${t.base}/api/v1/audit/stream`, {
        headers: { authorization: `Bearer ${bearer}`, accept: 'text/event-stream' },
        signal: controller.signal,
      });
      return { status: res.status, controller, type: res.headers.get('content-type') };
    };
    const first = await open();
    const second = await open();
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    const third = await curl([
      '-H',
      `authorization: Bearer ${admin}`,
      '-H',
      'accept: text/event-stream',
      `${t.base}/api/v1/audit/stream`,
    ]);
    assert.equal(third.status, 429);
    assert.match(third.headers['content-type'] ?? '', /^application\/problem\+json/);
    assert.equal(third.json<{ type: string }>().type, '/problems/too-many-streams');
    // Another user is not held back by the admin's streams.
    const other = await open(token).then(async (s) => {
      s.controller.abort();
      return s;
    });
    assert.equal(other.status, 200);
    first.controller.abort();
    let again: { status: number; controller: AbortController } | undefined;
    await until(async () => {
      again?.controller.abort();
      again = await open();
      return again.status === 200;
    }, 'a stream admitted after one ended');
    again?.controller.abort();
    second.controller.abort();
    assert.ok((await refusals(t.base))['audit-streams-per-user']! >= 1);
  });
});

describe('HTTP connection cap', () => {
  let t: TestSluice;
  before(async () => {
    t = await startTestSluice({ env: { MFT_HTTP_MAX_CONNECTIONS: '4' } });
  });
  after(() => t.stop());

  it('closes a fifth connection at once while four are open; the four are served', async () => {
    const { sockets, outcomes } = await halfRequests(t.base, 5);
    // The fifth was closed without an answer; then the four finish their requests.
    assert.equal(await outcomes[4], '');
    for (const socket of sockets.slice(0, 4)) socket.write('Connection: close\r\n\r\n');
    for (const answer of await Promise.all(outcomes.slice(0, 4))) assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.equal((await refusals(t.base))['http-connections'], 1);
  });
});

describe('HTTP connections per address', () => {
  let t: TestSluice;
  before(async () => {
    t = await startTestSluice({ env: { MFT_HTTP_MAX_CONNECTIONS_PER_ADDRESS: '3' } });
  });
  after(() => t.stop());

  it('closes a fourth connection from an address holding three; other addresses are served', async () => {
    const { sockets, outcomes } = await halfRequests(t.base, 4, '127.0.0.2');
    assert.equal(await outcomes[3], '', 'the fourth from 127.0.0.2 was closed unanswered');
    const other = await curl(['--interface', '127.0.0.3', `${t.base}/healthz`]);
    assert.equal(other.status, 200, 'another address is served meanwhile');
    for (const socket of sockets.slice(0, 3)) socket.write('Connection: close\r\n\r\n');
    for (const answer of await Promise.all(outcomes.slice(0, 3))) assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.equal((await refusals(t.base))['http-connections-per-address'], 1);
  });
});

describe('audit streams per server', () => {
  let t: TestSluice;
  let admin: string;
  before(async () => {
    t = await startTestSluice({ env: { MFT_AUDIT_MAX_STREAMS: '2' } });
    admin = await adminSession(t.base);
  });
  after(() => t.stop());

  it('answers a live audit stream past the server-wide cap with 503 and Retry-After, whoever asks', async () => {
    const userToken = async (userName: string) => {
      const res = await call(t.base, 'POST', '/api/v1/users', {
        token: admin,
        body: { userName, emailAddress: `${userName}@example.com`, password: PASSWORD, rights: ['auditor'] },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const opened = await call<{ token: string }>(t.base, 'POST', '/api/v1/sessions/open-immutable', {
        body: { userName, password: PASSWORD, applicationId: 1, clientVersion: 'limits' },
      });
      assert.equal(opened.status, 201, JSON.stringify(opened.body));
      return opened.body.token;
    };
    const streams: AbortController[] = [];
    for (const name of ['watcher-a', 'watcher-b']) {
      const controller = new AbortController();
      const res = await fetch(`${t.base}/api/v1/audit/stream`, {
        headers: { authorization: `Bearer ${await userToken(name)}` },
        signal: controller.signal,
      });
      assert.equal(res.status, 200);
      streams.push(controller);
    }
    const third = await curl([
      '-H',
      `authorization: Bearer ${await userToken('watcher-c')}`,
      `${t.base}/api/v1/audit/stream`,
    ]);
    assert.equal(third.status, 503);
    assert.equal(third.headers['retry-after'], '30');
    assert.equal(third.json<{ type: string }>().type, '/problems/too-many-streams');
    for (const s of streams) s.abort();
    assert.equal((await refusals(t.base))['audit-streams'], 1);
  });
});
