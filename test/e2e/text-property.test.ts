/**
 * Property: whatever text a client sends (lone surrogates, NUL, C0/C1 controls, very long
 * strings, astral characters, plain Unicode), every HTTP route and every SFTP operation
 * either succeeds with its event in the log, or fails cleanly (a 4xx problem, an SFTP
 * failure status) with nothing changed on disk and no effect recorded; never a 5xx, never a
 * dropped connection, never an "internal error".
 *
 * Strings come from a seeded generator: a failure names its seed and case, and
 * SLUICE_TEXT_SEED=<seed> replays it. SLUICE_TEXT_CASES sets the count per protocol.
 */
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import {
  FX,
  noAttrs,
  pflags,
  RawClient,
  statusOf,
  str,
  T,
  u32,
} from '../sftp-protocol/support/raw-client.js';
import { adminSession, call, startTestSluice, type TestSluice } from '../support/sluice.js';

const SEED = Number(process.env.SLUICE_TEXT_SEED ?? 20261202);
const CASES = Number(process.env.SLUICE_TEXT_CASES ?? 80);
const PASSWORD = 'property-test-password';
/** Events that are effects: none may appear after a refused request. */
const EFFECTS = new Set([
  'FileUploaded',
  'FileAttributesChanged',
  'FileRenamed',
  'FileDeleted',
  'DirectoryCreated',
  'DirectoryRemoved',
  'UserCreated',
  'UserUpdated',
  'ApplicationRegistered',
  'SessionOpened',
]);

let t: TestSluice;
let admin: string;
let token: string;
/** The user the PATCH cases rename. */
let patchMe: number;

// ---- the generator ----------------------------------------------------------------------

/** mulberry32: small, fast, and the same sequence for the same seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES: Array<(r: () => number) => string> = [
  (r) => 'abcxyzABC019-_.~ '[Math.floor(r() * 17)]!,
  () => '/',
  () => '..',
  () => '\0',
  (r) => String.fromCharCode(Math.floor(r() * 0x20)),
  () => '\x7f',
  (r) => String.fromCharCode(0x80 + Math.floor(r() * 0x20)),
  (r) => String.fromCharCode(0xd800 + Math.floor(r() * 0x400)),
  (r) => String.fromCharCode(0xdc00 + Math.floor(r() * 0x400)),
  (r) => String.fromCodePoint(0x10000 + Math.floor(r() * 0xfffff)),
  (r) => ['é', '日本', 'Ω', '\ufffd', '\ufeff', '\u00a0', '\\', '%', '"', "'", '😀'][Math.floor(r() * 11)]!,
];

function text(r: () => number): string {
  const long = r() < 0.08;
  const length = long ? 200 + Math.floor(r() * 5000) : Math.floor(r() * 12);
  // Most strings mix a few kinds of pieces; some are plain, so successes happen too.
  const kinds = r() < 0.35 ? [0, 9, 10] : Array.from({ length: 3 }, () => Math.floor(r() * PIECES.length));
  let out = '';
  while (out.length < length) out += PIECES[kinds[Math.floor(r() * kinds.length)]!]!(r);
  return out;
}

/** UTF-8, except that a lone surrogate is encoded as its three bytes (CESU-8, not UTF-8). */
function bytesOf(value: string): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    const next = value.charCodeAt(i + 1);
    if (code >= 0xd800 && code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      parts.push(Buffer.from(value.slice(i, i + 2)));
      i++;
    } else if (code >= 0xd800 && code <= 0xdfff) {
      parts.push(Buffer.from([0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)]));
    } else parts.push(Buffer.from(value[i]!));
  }
  return Buffer.concat(parts);
}

/** Percent-encodes every byte but unreserved ones (and '/' when `keepSlash`). */
function percent(value: string, keepSlash = false): string {
  let out = '';
  for (const byte of bytesOf(value)) {
    const c = String.fromCharCode(byte);
    out +=
      /[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/') ? c : `%${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** JSON as a client writes it: a lone surrogate as its \u escape (JSON.stringify does that). */
const json = (value: unknown) => JSON.stringify(value);

// ---- observing the server ---------------------------------------------------------------

/** One pool for every look at the log (a pool per look held one connection each until the end). */
let sharedPool: ReturnType<TestSluice['database']['open']>['pool'] | undefined;
const readPool = () => {
  sharedPool ??= t.database.open({ max: 1 }).pool;
  return sharedPool;
};

async function position(): Promise<number> {
  const pool = readPool();
  const { rows } = await pool.query('SELECT coalesce(max(global_position), 0)::bigint AS p FROM events');
  return Number(rows[0].p);
}

async function eventsAfter(from: number): Promise<Array<{ type: string; data: Record<string, unknown> }>> {
  const pool = readPool();
  return (
    await pool.query('SELECT type, data FROM events WHERE global_position > $1 ORDER BY global_position', [
      from,
    ])
  ).rows;
}

/** Every entry under the files root with its size: what "nothing changed on disk" compares. */
async function disk(): Promise<string> {
  const root = path.join(t.dataDir, 'files');
  const entries = await readdir(root, { recursive: true });
  const lines = await Promise.all(
    entries.map(async (e) => `${e}\t${(await stat(path.join(root, e)).catch(() => undefined))?.size}`),
  );
  return lines.sort().join('\n');
}

/** A raw HTTP request: the path goes on the wire exactly as given. */
function send(
  method: string,
  rawPath: string,
  options: { body?: string | Buffer; type?: string; token?: string } = {},
): Promise<{ status: number; body: string; type: string }> {
  const url = new URL(t.base);
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path: rawPath,
        headers: {
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          ...(options.body === undefined
            ? {}
            : {
                'content-type': options.type ?? 'application/json',
                'content-length': Buffer.byteLength(options.body),
              }),
        },
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (c: string) => {
          body += c;
        });
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body, type: String(response.headers['content-type']) }),
        );
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

interface Case {
  readonly what: string;
  readonly run: () => Promise<{ status: number; body: string; type: string }>;
  /** On success, the event that must have been recorded. */
  readonly recorded?: (events: Array<{ type: string; data: Record<string, unknown> }>) => boolean;
}

function cases(r: () => number, i: number): Case[] {
  const s = () => text(r);
  const clientVersion = s();
  const firstName = s();
  const name = s();
  const move = s();
  const folder = s();
  const filter = s();
  return [
    {
      what: `sign in with clientVersion ${json(clientVersion)}`,
      run: () =>
        send('POST', '/api/v1/sessions/open-immutable', {
          body: json({ userName: 'prop', password: PASSWORD, applicationId: 1000, clientVersion }),
        }),
      recorded: (events) =>
        events.some((e) => e.type === 'SessionOpened' && e.data.clientVersion === clientVersion),
    },
    {
      what: `sign in as ${json(firstName)}`,
      run: () =>
        send('POST', '/api/v1/sessions/open', {
          body: json({ userName: firstName, password: s(), applicationId: 2, clientVersion: 'p' }),
        }),
    },
    {
      what: `create a user named ${json(firstName)} ${json(name)}`,
      run: () =>
        send('POST', '/api/v1/users', {
          token: admin,
          body: json({
            userName: r() < 0.7 ? `u${SEED}x${i}` : s(),
            emailAddress: `u${i}@example.com`,
            firstName,
            lastName: name,
            homeFolder: `/${s()}`,
          }),
        }),
      recorded: (events) => events.some((e) => e.type === 'UserCreated' && e.data.firstName === firstName),
    },
    {
      what: `list users by ${json(filter)}`,
      run: () =>
        send('GET', `/api/v1/users?userName=${percent(filter)}&emailAddress=${percent(name)}`, {
          token: admin,
        }),
    },
    {
      what: `register an application named ${json(name)}`,
      run: () =>
        send('POST', '/api/v1/applications', {
          token: admin,
          body: json({ applicationId: 2000 + i, name, description: s() }),
        }),
      recorded: (events) => events.some((e) => e.type === 'ApplicationRegistered' && e.data.name === name),
    },
    {
      what: `upload to ${json(name)}`,
      run: () =>
        send('PUT', `/api/v1/files/${percent(name, r() < 0.5)}`, {
          token,
          body: 'x',
          type: 'application/octet-stream',
        }),
      recorded: (events) => events.some((e) => e.type === 'FileUploaded'),
    },
    {
      what: `download ${json(name)}`,
      run: () => send('GET', `/api/v1/files/${percent(name, true)}`, { token }),
      recorded: (events) => events.some((e) => e.type === 'FileDownloaded'),
    },
    {
      what: `move /m${i} to ${json(move)}`,
      run: () =>
        send('POST', '/api/v1/moves', {
          token,
          body: json({ from: `/m${i}`, to: move, overwrite: r() < 0.5 }),
        }),
      recorded: (events) => events.some((e) => e.type === 'FileRenamed' && e.data.from === `/m${i}`),
    },
    {
      what: `create the folder ${json(folder)}`,
      run: () => send('POST', `/api/v1/folders/${percent(folder, r() < 0.5)}`, { token }),
      recorded: (events) => events.some((e) => e.type === 'DirectoryCreated'),
    },
    {
      what: `list the folder ${json(folder)}`,
      run: () => send('GET', `/api/v1/folders/${percent(folder, true)}`, { token }),
    },
    {
      what: `audit events filtered by ${json(filter)}`,
      run: () =>
        send(
          'GET',
          `/api/v1/audit/events?path=${percent(filter)}&userName=${percent(name)}&userString=${percent(move)}&ip=${percent(folder)}`,
          { token: admin },
        ),
      recorded: (events) => events.some((e) => e.type === 'AuditQueried'),
    },
    {
      what: `rename the user patchme to ${json(firstName)} ${json(name)}`,
      run: () =>
        send('PATCH', `/api/v1/users/${patchMe}`, {
          token: admin,
          body: json({ firstName, lastName: name }),
        }),
      recorded: (events) => events.some((e) => e.type === 'UserUpdated'),
    },
    {
      what: `delete the file ${json(name)}`,
      run: () => send('DELETE', `/api/v1/files/${percent(name, r() < 0.5)}`, { token }),
      recorded: (events) => events.some((e) => e.type === 'FileDeleted'),
    },
    {
      what: `delete the folder ${json(folder)}`,
      run: () => send('DELETE', `/api/v1/folders/${percent(folder, r() < 0.5)}`, { token }),
      recorded: (events) => events.some((e) => e.type === 'DirectoryRemoved'),
    },
    {
      what: `sign in with the ticket ${json(move)}`,
      run: () =>
        send('POST', '/api/v1/sessions/open-with-ticket', {
          body: json({ ticket: move, applicationId: 1000, clientVersion }),
        }),
    },
    {
      what: `sign in on behalf of ${json(name)}`,
      run: () =>
        send('POST', '/api/v1/sessions/open-immutable-user-string', {
          body: json({
            userName: 'prop',
            password: PASSWORD,
            applicationId: 1000,
            clientVersion: 'p',
            userString: name,
          }),
        }),
      recorded: (events) => events.some((e) => e.type === 'SessionOpened' && e.data.userString === name),
    },
    {
      what: `export the audit filtered by ${json(filter)}`,
      run: () =>
        send(
          'GET',
          `/api/v1/audit/export?format=${r() < 0.5 ? 'csv' : 'ndjson'}&userName=${percent(filter)}`,
          {
            token: admin,
          },
        ),
      recorded: (events) => events.some((e) => e.type === 'AuditQueried'),
    },
    {
      what: `lift a ban on ${json(filter)}`,
      run: () =>
        send('DELETE', `/api/v1/bans/${r() < 0.5 ? 'user' : 'address'}/${percent(filter, true)}`, {
          token: admin,
        }),
      recorded: (events) => events.some((e) => e.type === 'SignInBanLifted'),
    },
    {
      what: `sessions filtered by ${json(filter)}`,
      run: () =>
        send('GET', `/api/v1/sessions?ip=${percent(filter)}&userString=${percent(name)}`, { token: admin }),
      recorded: (events) => events.some((e) => e.type === 'AuditQueried'),
    },
  ];
}

before(async () => {
  t = await startTestSluice();
  admin = await adminSession(t.base);
  const created = await call(t.base, 'POST', '/api/v1/users', {
    token: admin,
    body: { userName: 'prop', emailAddress: 'prop@example.com', password: PASSWORD },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const other = await call<{ userId: number }>(t.base, 'POST', '/api/v1/users', {
    token: admin,
    body: { userName: 'patchme', emailAddress: 'patchme@example.com', password: PASSWORD },
  });
  assert.equal(other.status, 201, JSON.stringify(other.body));
  patchMe = other.body.userId;
  const app = await call(t.base, 'POST', '/api/v1/applications', {
    token: admin,
    body: { applicationId: 1000, name: 'Property' },
  });
  assert.equal(app.status, 201);
  const session = await call<{ token: string }>(t.base, 'POST', '/api/v1/sessions/open-immutable', {
    body: { userName: 'prop', password: PASSWORD, applicationId: 2, clientVersion: 'property' },
  });
  assert.equal(session.status, 201);
  token = session.body.token;
});

after(async () => {
  await t.stop();
});

describe(`well-formed text at every boundary (seed ${SEED}, ${CASES} cases per protocol)`, () => {
  it('HTTP: each call succeeds with its event, or fails with a 4xx and changes nothing', async () => {
    const r = random(SEED);
    let successes = 0;
    let refusals = 0;
    for (let i = 0; i < CASES; i++) {
      // A file to move in this round, made before the snapshot.
      const made = await send('PUT', `/api/v1/files/m${i}`, {
        token,
        body: 'm',
        type: 'application/octet-stream',
      });
      assert.equal(made.status, 201, made.body);
      const round = cases(r, i);
      const pick = round[Math.floor(r() * round.length)]!;
      const label = `seed ${SEED} case ${i}: ${pick.what.slice(0, 300)}`;
      const before = await disk();
      const from = await position();
      const res = await pick.run();
      assert.ok(res.status < 500, `${label}: ${res.status} ${res.body}`);
      const events = await eventsAfter(from);
      if (res.status < 300) {
        successes++;
        if (pick.recorded) assert.ok(pick.recorded(events), `${label}: ${res.status} without its event`);
      } else {
        refusals++;
        // 431: Node's HTTP parser refuses a request line over 16 KiB before fastify sees it.
        if (res.status !== 431)
          assert.match(res.type, /^application\/problem\+json/, `${label}: ${res.body}`);
        assert.equal(await disk(), before, `${label}: ${res.status} changed the disk`);
        const effects = events.filter((e) => EFFECTS.has(e.type));
        assert.deepEqual(effects, [], `${label}: ${res.status} with effects recorded`);
      }
    }
    assert.ok(
      successes > 0 && refusals > 0,
      `both outcomes exercised (${successes} ok, ${refusals} refused)`,
    );
  });

  it('SFTP over SSH: each operation succeeds with its event, or answers a failure status and changes nothing', async () => {
    const r = random(SEED + 1);
    const client = new ssh2.Client();
    await new Promise<void>((resolve, reject) => {
      client.on('ready', () => resolve());
      client.on('error', reject);
      client.connect({ host: '127.0.0.1', port: t.sluice.sftpPort, username: 'prop', password: PASSWORD });
    });
    const channel = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
      client.subsys('sftp', (error: Error | undefined, stream: ssh2.ClientChannel) =>
        error ? reject(error) : resolve(stream),
      ),
    );
    const sftp = new RawClient(channel as unknown as net.Socket);
    await sftp.init();
    let closed = false;
    void sftp.ended.then(() => {
      closed = true;
    });
    const name = (): Buffer =>
      r() < 0.2
        ? Buffer.from(Array.from({ length: 1 + Math.floor(r() * 12) }, () => Math.floor(r() * 256)))
        : bytesOf(text(r));
    let successes = 0;
    let refusals = 0;
    try {
      for (let i = 0; i < CASES; i++) {
        const source = Buffer.from(`s${i}`);
        const made = await sftp.call(
          T.OPEN,
          str(source),
          u32(pflags.WRITE | pflags.CREAT | pflags.TRUNC),
          noAttrs,
        );
        assert.equal(made.type, T.HANDLE);
        const handle = made.body.subarray(4, 4 + made.body.readUInt32BE(0));
        assert.equal(statusOf(await sftp.call(T.CLOSE, str(handle))).code, FX.OK);

        const target = name();
        const op = Math.floor(r() * 9);
        const label = `seed ${SEED + 1} case ${i}: op ${op} on ${JSON.stringify(target.toString('latin1')).slice(0, 300)}`;
        const before = await disk();
        const from = await position();
        let ok: boolean;
        let expected: string | undefined;
        let reply: Awaited<ReturnType<RawClient['call']>>;
        if (op === 0) {
          reply = await sftp.call(
            T.OPEN,
            str(target),
            u32(pflags.WRITE | pflags.CREAT | pflags.EXCL),
            noAttrs,
          );
          ok = reply.type === T.HANDLE;
          if (ok) {
            const h = reply.body.subarray(4, 4 + reply.body.readUInt32BE(0));
            reply = await sftp.call(T.CLOSE, str(h));
            assert.equal(statusOf(reply).code, FX.OK, label);
            expected = 'FileUploaded';
          }
        } else if (op === 1) {
          reply = await sftp.call(T.MKDIR, str(target), noAttrs);
          ok = statusOf(reply).code === FX.OK;
          expected = 'DirectoryCreated';
        } else if (op === 2) {
          reply = await sftp.call(T.RENAME, str(source), str(target));
          ok = statusOf(reply).code === FX.OK;
          expected = 'FileRenamed';
        } else if (op === 3) {
          reply = await sftp.call(T.REMOVE, str(target));
          ok = statusOf(reply).code === FX.OK;
          expected = 'FileDeleted';
        } else if (op === 4) {
          reply = await sftp.call(T.STAT, str(target));
          ok = reply.type === T.ATTRS;
        } else if (op === 5) {
          reply = await sftp.call(T.RMDIR, str(target));
          ok = statusOf(reply).code === FX.OK;
          expected = 'DirectoryRemoved';
        } else if (op === 6) {
          // SETSTAT of the times (SSH_FILEXFER_ATTR_ACMODTIME).
          reply = await sftp.call(T.SETSTAT, str(target), u32(0x8), u32(1_700_000_000), u32(1_700_000_000));
          ok = statusOf(reply).code === FX.OK;
          expected = 'FileAttributesChanged';
        } else if (op === 7) {
          reply = await sftp.call(T.EXTENDED, str('posix-rename@openssh.com'), str(source), str(target));
          ok = statusOf(reply).code === FX.OK;
          expected = 'FileRenamed';
        } else {
          reply = await sftp.call(T.OPENDIR, str(target));
          ok = reply.type === T.HANDLE;
          if (ok) {
            const h = reply.body.subarray(4, 4 + reply.body.readUInt32BE(0));
            reply = await sftp.call(T.CLOSE, str(h));
            assert.equal(statusOf(reply).code, FX.OK, label);
          }
        }
        assert.ok(!closed, `${label}: the session ended`);
        const events = await eventsAfter(from);
        if (ok) {
          successes++;
          if (expected)
            assert.ok(
              events.some((e) => e.type === expected),
              `${label}: no ${expected}`,
            );
        } else {
          refusals++;
          const status = statusOf(reply);
          assert.notEqual(status.code, FX.OK, label);
          assert.notEqual(status.message, 'internal error', label);
          assert.equal(await disk(), before, `${label}: ${status.message} changed the disk`);
          const effects = events.filter((e) => EFFECTS.has(e.type));
          assert.deepEqual(effects, [], `${label}: ${status.message} with effects recorded`);
        }
      }
    } finally {
      client.end();
    }
    assert.ok(
      successes > 0 && refusals > 0,
      `both outcomes exercised (${successes} ok, ${refusals} refused)`,
    );
  });
});
