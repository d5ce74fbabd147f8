/**
 * The audit export streams with constant memory: the real server process exports more than a
 * million rows to curl while this test samples the server's resident set size (VmRSS). Rows are
 * read in keyset batches and written with back-pressure, so after the first batches the RSS
 * must stop growing; a server that gathered the rows (or their text) would grow by about the
 * size of the export's second half, over 100 MiB here.
 *
 * The log is filled through the event store with 1,000,000 AuditQueried events (audit reads:
 * only the audit view keeps them), before the server starts; the server's projections catch up
 * first. All of it runs on a PostgreSQL server of its own: the event store's readers wait for
 * the oldest transaction of the whole server, and this much writing would hold back the other
 * test files' reads on the shared one.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { type Kysely, sql } from 'kysely';
import { openDatabase } from '../../src/adapters/database/connect.js';
import { migrate } from '../../src/adapters/database/migrate.js';
import { AppendNotifier } from '../../src/adapters/eventstore/postgres/append-notifier.js';
import { eventStoreMigrations } from '../../src/adapters/eventstore/postgres/migrations/index.js';
import { PostgresEventStore } from '../../src/adapters/eventstore/postgres/postgres-event-store.js';
import type { ReadModel } from '../../src/adapters/readmodel/schema.js';
import { toNewEvent } from '../../src/domain/events/catalogue.js';
import { startTestPostgres } from '../support/database.js';
import { type ServerProcess, spawnServer } from '../support/server-process.js';
import { ADMIN_PASSWORD, call } from '../support/sluice.js';

const EVENTS = 1_000_000;
const PER_APPEND = 2_000;
const WRITERS = 4;
const MiB = 2 ** 20;

let postgres: Awaited<ReturnType<typeof startTestPostgres>>;
let handles: Array<ReturnType<typeof openDatabase>> = [];
const open = <DB>(max: number) => {
  const handle = openDatabase<DB>(postgres.url, { max });
  handles.push(handle as ReturnType<typeof openDatabase>);
  return handle;
};
let server: ServerProcess;
let head = 0;

async function fillLog(url: string): Promise<number> {
  const { db } = open<ReadModel>(WRITERS + 1);
  await migrate(db as Kysely<unknown>, { name: 'eventstore', migrations: eventStoreMigrations });
  const notifier = new AppendNotifier(url);
  const store = new PostgresEventStore({ db: db as Kysely<ReadModel>, notifier });
  let written = 0;
  let last = 0;
  try {
    await Promise.all(
      Array.from({ length: WRITERS }, async (_, w) => {
        for (let chunk = 0; written < EVENTS; chunk += 1) {
          const take = Math.min(PER_APPEND, EVENTS - written);
          written += take;
          const events = Array.from({ length: take }, (_, i) =>
            toNewEvent(
              {
                type: 'AuditQueried',
                data: {
                  userId: 1 + ((chunk + i) % 50),
                  query: 'audit.events',
                  filters: { path: `/reports/${w}/${chunk}/${i}.csv`, userString: 'Clerk, "ACME"\nfloor 2' },
                },
              },
              {
                envelopeVersion: 1,
                correlationId: `c-${w}-${chunk}`,
                actor: { userId: 1 + (i % 50), clientIp: `10.1.${w}.${i % 250}`, applicationId: 1 },
              },
            ),
          );
          const appended = await store.appendToStream(`audit-queries-fill-${w}-${chunk}`, events, {
            expectedRevision: 'no_stream',
          });
          last = Math.max(last, appended.lastPosition);
        }
      }),
    );
  } finally {
    await store.close();
  }
  return last;
}

let reader: ReturnType<typeof openDatabase> | undefined;
async function auditCheckpoint(): Promise<number> {
  reader ??= open<unknown>(1);
  const result = await sql<{ position: string }>`
    SELECT position FROM projection_checkpoints WHERE name = 'audit'`.execute(reader.db);
  return Number(result.rows[0]?.position ?? 0);
}

async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kb === undefined) throw new Error('no VmRSS');
  return Number(kb) * 1024;
}

before(async () => {
  postgres = await startTestPostgres();
  head = await fillLog(postgres.url);
  server = await spawnServer({
    env: { DATABASE_URL: postgres.url, MFT_ADMIN_PASSWORD: ADMIN_PASSWORD },
    timeoutMs: 120_000,
  });
  const deadline = Date.now() + 600_000;
  while ((await auditCheckpoint()) < head) {
    assert.ok(Date.now() < deadline, 'the audit view did not catch up within 10 minutes');
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
});

after(async () => {
  const code = await server?.stop();
  if (server) await rm(server.dataDir, { recursive: true, force: true });
  await Promise.all(handles.map((h) => h.db.destroy().catch(() => undefined)));
  handles = [];
  await postgres?.stop();
  if (postgres) await rm(postgres.dir, { recursive: true, force: true });
  assert.equal(code, 0);
});

describe('GET /api/v1/audit/export with more than a million rows', () => {
  it('streams them to curl while the server’s RSS stays flat', async (t) => {
    const admin = await call<{ sessionId: string; token: string }>(
      server.baseUrl,
      'POST',
      '/api/v1/sessions/open-immutable',
      {
        body: { userName: 'admin', password: ADMIN_PASSWORD, applicationId: 1 },
      },
    );
    assert.equal(admin.status, 201);
    const pid = server.child.pid;
    assert.ok(pid !== undefined);

    const curl = spawn(
      'curl',
      [
        '-sS',
        '--fail',
        '-H',
        `authorization: Bearer ${admin.body.token}`,
        `${server.baseUrl}/api/v1/audit/export?format=csv&operation=audit.query`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let bytes = 0;
    let records = 0;
    let inQuotes = false;
    let stderr = '';
    curl.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
    });
    // Records, not lines: the quoted userString holds a line break of its own.
    curl.stdout.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      for (const byte of chunk) {
        if (byte === 0x22) inQuotes = !inQuotes;
        else if (byte === 0x0a && !inQuotes) records += 1;
      }
    });
    const samples: Array<{ bytes: number; rss: number }> = [];
    const sampler = setInterval(() => {
      rssBytes(pid).then(
        (rss) => samples.push({ bytes, rss }),
        () => undefined,
      );
    }, 50);
    const code = await new Promise<number | null>((resolve) => curl.on('close', resolve));
    clearInterval(sampler);
    assert.equal(code, 0, stderr);

    // The header and every AuditQueried row (the fill, and the admin's own reads if any).
    assert.ok(records >= EVENTS + 1, `only ${records} records exported`);
    const total = bytes;
    const firstHalf = samples.filter((s) => s.bytes > total * 0.1 && s.bytes <= total * 0.5);
    const secondHalf = samples.filter((s) => s.bytes > total * 0.5);
    assert.ok(firstHalf.length >= 5 && secondHalf.length >= 5, `too few samples (${samples.length})`);
    const peak = (list: typeof samples) => Math.max(...list.map((s) => s.rss));
    const growth = peak(secondHalf) - peak(firstHalf);
    const secondHalfMiB = (total * 0.5) / MiB;
    t.diagnostic(
      `${records} records, ${(total / MiB).toFixed(0)} MiB; RSS ${(samples[0]!.rss / MiB).toFixed(0)} MiB at the ` +
        `start, first-half peak ${(peak(firstHalf) / MiB).toFixed(0)}, second-half peak ${(peak(secondHalf) / MiB).toFixed(0)}`,
    );
    // Growth far below the data the second half carried (a buffering server grows by all of it).
    assert.ok(
      growth < 48 * MiB,
      `RSS grew by ${(growth / MiB).toFixed(1)} MiB during the second half ` +
        `(${secondHalfMiB.toFixed(0)} MiB exported; first half peak ${(peak(firstHalf) / MiB).toFixed(0)} MiB)`,
    );
    assert.ok(secondHalfMiB > 96, 'the second half carries more than twice the bound');
    // And the whole export raised it by far less than its size (about two batches and buffers).
    const before = samples[0]?.rss ?? 0;
    assert.ok(
      peak(samples) - before < 128 * MiB,
      `RSS rose from ${(before / MiB).toFixed(0)} to ${(peak(samples) / MiB).toFixed(0)} MiB for ${(total / MiB).toFixed(0)} MiB exported`,
    );
  });
});
