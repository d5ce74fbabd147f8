/**
 * `npm run bench:audit -- [--events=N] [--batch=N] [--runs=N]`: the audit and sessions views
 * at scale, on a throw-away embedded PostgreSQL (default settings and durability). See
 * bench/README.md.
 *
 *   --events=N   synthetic events loaded (default 10,000,000; env BENCH_EVENTS)
 *   --batch=N    projection runner batch size (default: the server's, DEFAULT_BATCH_SIZE; env BENCH_BATCH)
 *   --runs=N     rounds of each query (default 20; env BENCH_RUNS)
 *
 * 1. Load: N events of a realistic mix (users and applications, then sessions of every kind
 *    with a connection, 10–70 file operations, denials, aborted uploads, failed sign-ins, and
 *    an end) appended through the EventStore port by 4 writers, 1,000 events per append.
 * 2. Projections: the audit view, then the sessions view, each alone from position 0 to the
 *    head through the ProjectionRunner (events/s over all N events of the log).
 * 3. Queries: Sluice itself (startSluice) on that database; twelve typical filtered queries over
 *    HTTP, each round reading the first page and following nextCursor for 4 more pages.
 *    Latency includes authentication and recording the query (AuditQueried).
 * 4. Export: the whole view as CSV, then as NDJSON, over HTTP; rows/s and the process's RSS.
 *
 * Prints tables only; writes no result files. Figures are for reading, never for assertions.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { sql } from 'kysely';
import { pino } from 'pino';
import type { DatabaseHandle } from '../../src/adapters/database/connect.js';
import type { PostgresEventStore } from '../../src/adapters/eventstore/postgres/postgres-event-store.js';
import type { ReadModel } from '../../src/adapters/readmodel/schema.js';
import { loadConfig } from '../../src/config.js';
import type { NewEvent } from '../../src/domain/event-store.js';
import { validateEvent } from '../../src/domain/events/catalogue.js';
import type { Actor, EventMetadata } from '../../src/domain/events/envelope.js';
import { startSluice } from '../../src/main.js';
import { applicationsProjection } from '../../src/projections/applications-view.js';
import { auditProjection } from '../../src/projections/audit/write.js';
import { merkleProjection } from '../../src/projections/merkle-tree.js';
import type { Projection } from '../../src/projections/projection.js';
import { ProjectionRunner } from '../../src/projections/runner.js';
import { serverInstancesProjection } from '../../src/projections/server-instances.js';
import { sessionsProjection } from '../../src/projections/sessions-view.js';
import { usersProjection } from '../../src/projections/users-view.js';
import { freePort } from '../../test/support/free-port.js';
import { fmt, log, percentile, runLogBench, table } from '../support/common.js';

// ---------------------------------------------------------------------------------------------
// Options

// ---------------------------------------------------------------------------------------------
// Synthetic workload

const USERS = 1000;
const FIRST_USER_ID = 100_000;
const APPLICATIONS = 20;
const IPS = 2000;
const USER_STRINGS = 500;
const PARTNERS = 200;

/** A small deterministic PRNG (mulberry32), so runs load the same mix. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const userName = (i: number) => `user${String(i).padStart(5, '0')}`;
const ipOf = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const userStringOf = (i: number) => `partner-user-${i}@example.com`;
const hex64 = (r: () => number) => {
  let s = '';
  for (let i = 0; i < 8; i += 1)
    s += Math.floor(r() * 0x1_0000_0000)
      .toString(16)
      .padStart(8, '0');
  return s;
};

function metadata(actor: Actor): EventMetadata {
  return { envelopeVersion: 1, correlationId: randomUUID(), actor };
}

/** Users and applications (made by user 1, the admin). */
function directoryEvents(): NewEvent[] {
  const admin: Actor = { userId: 1, applicationId: 1, clientIp: '192.0.2.1' };
  const events: NewEvent[] = [];
  for (let i = 0; i < APPLICATIONS; i += 1) {
    events.push({
      type: 'ApplicationRegistered',
      data: { applicationId: 1000 + i, name: `Integrator ${i}`, description: '', registeredBy: 1 },
      metadata: metadata(admin),
    });
  }
  for (let i = 0; i < USERS; i += 1) {
    events.push({
      type: 'UserCreated',
      data: {
        userId: FIRST_USER_ID + i,
        userName: userName(i),
        emailAddress: `${userName(i)}@example.com`,
        firstName: 'Bench',
        lastName: `User ${i}`,
        enabled: true,
        rights: [],
        homeFolder: `/home/${userName(i)}`,
        permissions: [],
        createdBy: { kind: 'admin', userId: 1 },
        credentialVersion: 1,
      },
      metadata: metadata(admin),
    });
  }
  return events;
}

/** One session's events, start to end, in order. */
function sessionEvents(r: () => number, now: Date): NewEvent[] {
  const user = Math.floor(r() * USERS);
  const userId = FIRST_USER_ID + user;
  const clientIp = ipOf(Math.floor(r() * IPS));
  const roll = r();
  const kind =
    roll < 0.7 ? 'immutable' : roll < 0.85 ? 'replaceable' : roll < 0.95 ? 'user-string' : 'impersonated';
  const applicationId = kind === 'immutable' ? 3 : 1000 + Math.floor(r() * APPLICATIONS);
  const userString = kind === 'user-string' ? userStringOf(Math.floor(r() * USER_STRINGS)) : null;
  const sessionId = randomUUID();
  const events: NewEvent[] = [];
  const signInActor: Actor = { clientIp, clientPort: 40_000 + Math.floor(r() * 20_000) };
  if (r() < 0.03) {
    const unknown = r() < 0.2;
    events.push({
      type: 'SignInFailed',
      data: {
        method: 'password',
        reason: unknown ? 'unknown-user' : 'invalid-credentials',
        applicationId,
        userName: unknown ? `guess${Math.floor(r() * 50_000)}` : userName(user),
        userId: unknown ? null : userId,
        clientIp,
        clientVersion: 'OpenSSH_9.6',
        at: now.toISOString(),
      },
      metadata: metadata(signInActor),
    });
  }
  const openedAt = now.toISOString();
  events.push({
    type: 'SessionOpened',
    data: {
      sessionId,
      userId,
      applicationId,
      kind,
      method: 'password',
      clientVersion: kind === 'immutable' ? 'OpenSSH_9.6' : 'PartnerPortal 4.2',
      clientIp,
      callerIp: clientIp,
      userString,
      impersonator: kind === 'impersonated' ? { userId: FIRST_USER_ID, sessionId: randomUUID() } : null,
      openedAt,
      expiresAt: kind === 'replaceable' ? null : new Date(now.getTime() + 48 * 3600_000).toISOString(),
    },
    metadata: metadata(signInActor),
  });
  const actor: Actor = {
    userId,
    applicationId,
    sessionId,
    clientIp,
    clientPort: signInActor.clientPort!,
    ...(userString ? { userString } : {}),
  };
  const connectionId = randomUUID();
  events.push({
    type: 'ConnectionOpened',
    data: {
      connectionId,
      protocol: 'sftp',
      sessionId,
      userId,
      remoteAddress: clientIp,
      remotePort: actor.clientPort!,
      clientSoftware: 'SSH-2.0-OpenSSH_9.6',
      authMethod: 'password',
      keyFingerprint: null,
    },
    metadata: metadata(actor),
  });
  const partner = Math.floor(r() * PARTNERS);
  const dir = `/partners/p${String(partner).padStart(3, '0')}`;
  const operations = 10 + Math.floor(r() * 61);
  let bytesIn = 0;
  let bytesOut = 0;
  for (let i = 0; i < operations; i += 1) {
    const file = `${dir}/${r() < 0.5 ? 'in' : 'out'}/INV-${String(Math.floor(r() * 1_000_000)).padStart(6, '0')}.pdf`;
    const size = 1000 + Math.floor(r() * 5_000_000);
    const x = r();
    let event: { type: string; data: Record<string, unknown> };
    if (x < 0.4) {
      event = {
        type: 'FileUploaded',
        data: { protocol: 'sftp', path: file, size, sha256: hex64(r), overwrote: r() < 0.1 },
      };
      bytesIn += size;
    } else if (x < 0.75) {
      event = {
        type: 'FileDownloaded',
        data: { protocol: 'sftp', path: file, bytesSent: size, whole: true, offset: 0, sha256: hex64(r) },
      };
      bytesOut += size;
    } else if (x < 0.83) event = { type: 'FileDeleted', data: { protocol: 'sftp', path: file, size } };
    else if (x < 0.88)
      event = {
        type: 'FileRenamed',
        data: { protocol: 'sftp', from: file, to: `${file}.done`, overwrote: false },
      };
    else if (x < 0.91)
      event = { type: 'DirectoryCreated', data: { protocol: 'sftp', path: `${dir}/in/batch-${i}` } };
    else if (x < 0.92)
      event = { type: 'DirectoryRemoved', data: { protocol: 'sftp', path: `${dir}/in/batch-${i}` } };
    else if (x < 0.97)
      event = {
        type: 'AccessDenied',
        data: {
          protocol: 'sftp',
          operation: 'download',
          path: `/partners/p${(partner + 1) % PARTNERS}/in/x.pdf`,
          reason: 'no permission',
        },
      };
    else
      event = {
        type: 'UploadAborted',
        data: {
          protocol: 'sftp',
          path: file,
          bytesReceived: Math.floor(size / 2),
          reason: 'connection lost',
        },
      };
    events.push({ ...event, metadata: metadata(actor) });
  }
  events.push({
    type: 'ConnectionClosed',
    data: {
      connectionId,
      protocol: 'sftp',
      sessionId,
      userId,
      reason: 'client disconnected',
      bytesIn,
      bytesOut,
      durationMs: 1000 + Math.floor(r() * 600_000),
    },
    metadata: metadata(actor),
  });
  const end = r();
  if (end < 0.7) {
    events.push({
      type: 'SessionClosed',
      data: { sessionId, userId, closedBy: userId, reason: 'closed', closedAt: now.toISOString() },
      metadata: metadata(actor),
    });
  } else if (end < 0.9 || kind === 'replaceable') {
    events.push({
      type: kind === 'replaceable' ? 'SessionReplaced' : 'SessionExpired',
      data:
        kind === 'replaceable'
          ? { sessionId, userId, applicationId, replacedBy: randomUUID() }
          : { sessionId, userId, expiredAt: now.toISOString() },
      metadata: metadata({}),
    } as NewEvent);
  }
  return events;
}

// ---------------------------------------------------------------------------------------------
// Phases

async function load(store: PostgresEventStore, total: number) {
  const directory = directoryEvents();
  for (const e of directory) validateEvent(e);
  await store.appendToStream('bench-directory', directory, { expectedRevision: 'no_stream' });
  const sample = sessionEvents(prng(1), new Date());
  for (const e of sample) validateEvent(e);

  const writers = 4;
  const perAppend = 1000;
  let written = directory.length;
  const started = performance.now();
  let lastReport = started;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      const r = prng(1000 + w);
      let pending: NewEvent[] = [];
      let chunk = 0;
      while (written < total) {
        while (pending.length < perAppend) pending.push(...sessionEvents(r, new Date()));
        const take = Math.min(perAppend, total - written);
        if (take <= 0) break;
        written += take;
        const batch = pending.slice(0, take);
        pending = pending.slice(take);
        await store.appendToStream(`bench-${w}-${chunk++}`, batch, { expectedRevision: 'no_stream' });
        const now = performance.now();
        if (now - lastReport > 10_000) {
          lastReport = now;
          log(`  loaded ${fmt(written)} events (${fmt(written / ((now - started) / 1000))}/s)`);
        }
      }
    }),
  );
  return { events: written, seconds: (performance.now() - started) / 1000 };
}

async function project(
  store: PostgresEventStore,
  db: DatabaseHandle<ReadModel>['db'],
  projections: Projection[],
  head: number,
  batchSize: number,
) {
  const runner = new ProjectionRunner({ store, db, projections, batchSize });
  const started = performance.now();
  await runner.start();
  const names = projections.map((p) => p.name).join(' + ');
  for (;;) {
    if (await runner.waitForPosition(head, 10_000)) break;
    const positions = runner.positions();
    const behind = runner.status().find((s) => s.failures > 0);
    if (behind) log(`  ${behind.name} failing: ${behind.lastError}`);
    const least = Math.min(...Object.values(positions));
    log(
      `  ${names}: at ${fmt(least)} of ${fmt(head)} (${fmt(least / ((performance.now() - started) / 1000))} events/s)`,
    );
  }
  const seconds = (performance.now() - started) / 1000;
  await runner.stop();
  return seconds;
}

interface QueryCase {
  readonly name: string;
  readonly path: string;
}

async function timedGet(base: string, token: string, path: string) {
  const started = performance.now();
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await res.json()) as { items?: unknown[]; nextCursor?: string | null; title?: string };
  const ms = performance.now() - started;
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
  return { ms, items: body.items?.length ?? 0, nextCursor: body.nextCursor ?? null };
}

async function runQueries(base: string, token: string, cases: QueryCase[], runs: number) {
  const rows: string[][] = [];
  for (const q of cases) {
    const latencies: number[] = [];
    let items = 0;
    await timedGet(base, token, q.path); // warm-up
    for (let run = 0; run < runs; run += 1) {
      let page = await timedGet(base, token, q.path);
      latencies.push(page.ms);
      items += page.items;
      for (let p = 1; p < 5 && page.nextCursor; p += 1) {
        const sep = q.path.includes('?') ? '&' : '?';
        page = await timedGet(base, token, `${q.path}${sep}cursor=${page.nextCursor}`);
        latencies.push(page.ms);
        items += page.items;
      }
    }
    latencies.sort((a, b) => a - b);
    rows.push([
      q.name,
      fmt(latencies.length),
      fmt(items / latencies.length, 1),
      fmt(percentile(latencies, 50), 1),
      fmt(percentile(latencies, 99), 1),
      fmt(latencies.at(-1) ?? Number.NaN, 1),
    ]);
    log(`  ${q.name}: p50 ${rows.at(-1)![3]} ms, p99 ${rows.at(-1)![4]} ms`);
  }
  return rows;
}

async function runExport(base: string, token: string, format: 'csv' | 'ndjson') {
  const rss: number[] = [process.memoryUsage().rss];
  const sampler = setInterval(() => rss.push(process.memoryUsage().rss), 100);
  const started = performance.now();
  const res = await fetch(`${base}/api/v1/audit/export?format=${format}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (res.status !== 200 || !res.body) throw new Error(`export: ${res.status}`);
  let lines = 0;
  let bytes = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    for (let i = value.indexOf(10); i >= 0; i = value.indexOf(10, i + 1)) lines += 1;
  }
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  rss.push(process.memoryUsage().rss);
  const rows = format === 'csv' ? lines - 1 : lines;
  const mib = (n: number) => fmt(n / 2 ** 20);
  return [
    format,
    fmt(rows),
    fmt(bytes / 2 ** 20),
    fmt(seconds, 1),
    fmt(rows / seconds),
    mib(rss[0]!),
    mib(Math.max(...rss)),
    mib(rss.at(-1)!),
  ];
}

runLogBench(
  'bench:audit',
  'Sluice audit benchmark',
  {
    events: 10_000_000,
    own: { runs: { env: 'BENCH_RUNS', fallback: 20 } },
    describe: (o) => `query rounds: ${o.runs}`,
  },
  async (options, { dir, url, db, store, onCleanup }) => {
    log(`loading ${fmt(options.events)} events (4 writers, 1,000 events per append)`);
    const loaded = await load(store, options.events);
    const head = await store.headPosition();
    await sql`CHECKPOINT`.execute(db);
    await sql`VACUUM ANALYZE events`.execute(db);

    const projectionRows: string[][] = [];
    for (const projections of [[auditProjection], [sessionsProjection]]) {
      log(`projecting ${projections[0]!.name} from 0`);
      const seconds = await project(store, db, projections, head, options.batch);
      projectionRows.push([projections[0]!.name, fmt(head), fmt(seconds, 1), fmt(head / seconds)]);
      await sql`CHECKPOINT`.execute(db);
    }
    // The Merkle view too: else the server started below would build it while queries are timed.
    log('projecting users, applications, server_instances, merkle (untimed)');
    await project(
      store,
      db,
      [usersProjection, applicationsProjection, serverInstancesProjection, merkleProjection],
      head,
      5000,
    );
    await sql`ANALYZE`.execute(db);
    const sizes = await sql<{ name: string; rows: string; table: string; indexes: string }>`
      SELECT relname AS name, reltuples::bigint::text AS rows,
        pg_size_pretty(pg_table_size(oid)) AS table, pg_size_pretty(pg_indexes_size(oid)) AS indexes
      FROM pg_class WHERE relname IN ('events', 'audit_events', 'sessions') ORDER BY relname`.execute(db);

    log('starting Sluice on the loaded database');
    const password = 'bench-admin-password';
    const sluice = await startSluice(
      loadConfig({
        DATABASE_URL: url,
        MFT_HTTP_PORT: String(await freePort()),
        MFT_SFTP_PORT: String(await freePort()),
        MFT_BIND_ADDRESS: '127.0.0.1',
        MFT_ADMIN_PASSWORD: password,
        MFT_DATA_DIR: path.join(dir, 'sluice'),
      }),
      { logger: pino({ level: 'warn' }) },
    );
    onCleanup(() => sluice.stop('benchmark finished'));
    const base = sluice.address;
    const opened = await fetch(`${base}/api/v1/sessions/open-immutable`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userName: 'admin', password, applicationId: 1, clientVersion: 'bench' }),
    });
    const { token, position } = (await opened.json()) as { token: string; position: number };
    await sluice.runner.waitForPosition(position, 60_000);

    // Values that exist in the data: a user, a session, an address, a userString, a time window.
    const probe = await sql<{ session_id: string; user_id: number; client_ip: string; at: Date }>`
      SELECT session_id, user_id, client_ip, at FROM audit_events
      WHERE operation = 'file.upload' AND global_position > ${Math.floor(head / 2)}
      ORDER BY global_position LIMIT 1`.execute(db);
    const p = probe.rows[0]!;
    // The load spans only minutes of recorded time: one second of it is like a day of a month.
    const from = new Date(p.at.getTime() - 500).toISOString();
    const to = new Date(p.at.getTime() + 500).toISOString();
    const cases: QueryCase[] = [
      { name: 'newest events (no filter)', path: '/api/v1/audit/events?limit=100' },
      { name: 'one user', path: `/api/v1/audit/events?limit=100&userId=${p.user_id}` },
      { name: 'user-name prefix (10 names)', path: '/api/v1/audit/events?limit=100&userName=user0012' },
      {
        name: 'uploads+downloads of a user, asc',
        path: `/api/v1/audit/events?limit=100&order=asc&userId=${p.user_id}&operation=file.upload&operation=file.download`,
      },
      { name: 'denials', path: '/api/v1/audit/events?limit=100&outcome=denied' },
      {
        name: 'deletes+renames (2 ops)',
        path: '/api/v1/audit/events?limit=100&operation=file.delete&operation=file.rename',
      },
      { name: 'one IP', path: `/api/v1/audit/events?limit=100&ip=${p.client_ip}` },
      {
        name: 'one userString',
        path: `/api/v1/audit/events?limit=100&userString=${encodeURIComponent(userStringOf(7))}`,
      },
      {
        name: 'path prefix + 1 s window',
        path: `/api/v1/audit/events?limit=100&path=/partners/p042/&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`,
      },
      { name: 'session timeline', path: `/api/v1/sessions/${p.session_id}/timeline?limit=20` },
      { name: 'sessions of a user', path: `/api/v1/sessions?limit=20&userId=${p.user_id}` },
      {
        name: 'replay: untilPosition = N/2',
        path: `/api/v1/audit/events?limit=100&untilPosition=${Math.floor(head / 2)}`,
      },
    ];
    log('queries');
    const queryRows = await runQueries(base, token, cases, options.runs);
    log('exports');
    const exportRows = [await runExport(base, token, 'csv'), await runExport(base, token, 'ndjson')];

    return [
      table(
        `Load: ${fmt(loaded.events)} events in ${fmt(loaded.seconds, 1)} s (${fmt(loaded.events / loaded.seconds)} events/s appended)`,
        ['projection (alone, from 0)', 'events', 'seconds', 'events/s'],
        projectionRows,
      ),
      table(
        'Sizes',
        ['table', 'rows (est.)', 'table', 'indexes'],
        sizes.rows.map((r) => [r.name, fmt(Number(r.rows)), r.table, r.indexes]),
      ),
      table(
        `Queries over HTTP: ${options.runs} rounds × (first page + up to 4 pages by cursor)`,
        ['query', 'requests', 'items/page', 'p50 ms', 'p99 ms', 'max ms'],
        queryRows,
      ),
      table(
        'Export over HTTP, the whole view (RSS of this process: server and client)',
        ['format', 'rows', 'MiB', 'seconds', 'rows/s', 'RSS start MiB', 'RSS peak MiB', 'RSS end MiB'],
        exportRows,
      ),
    ];
  },
);
