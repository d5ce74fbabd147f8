/**
 * `npm run rebuild -- <view>` while the server runs: after a realistic mixed workload (users,
 * applications, every kind of session, replacements, closes, expiry, failed sign-ins,
 * connections, transfers, denials, audit reads), the rebuilt sessions and audit tables equal
 * the live ones row for row; also when events keep arriving during the rebuild, with the live
 * runner continuing on the rebuilt tables afterwards.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type Kysely, sql } from 'kysely';
import type { ReadModel } from '../../src/adapters/readmodel/schema.js';
import { rebuildDatabaseUrl } from '../../src/cli/rebuild.js';
import { lastCommittedPosition } from '../projections/harness.js';
import { call, startTestSluice, type TestSluice } from '../support/sluice.js';
import {
  aborted,
  connectionOpened,
  createWorld,
  deleted,
  denied,
  downloaded,
  type Opened,
  PASSWORD,
  renamed,
  uploaded,
  type World,
} from './support.js';

const run = promisify(execFile);
let t: TestSluice;
let w: World;
let db: Kysely<ReadModel>;

/** The rebuilt views' tables, each with an order that names every row once. */
const TABLES: Array<[string, string]> = [
  ['sessions', 'session_id'],
  ['audit_events', 'global_position'],
  ['audit_names', 'name_folded, user_id'],
  ['files', 'user_id, path'],
];
const VIEWS = ['audit', 'sessions', 'files'];

async function snapshot(): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const [table, order] of TABLES) {
    const { rows } = await sql<Record<string, unknown>>`
      SELECT * FROM ${sql.table(table)} ORDER BY ${sql.raw(order)}`.execute(db);
    result[table] = JSON.stringify(rows);
  }
  return result;
}

/** Equal row for row; on a difference, names the table and the first row that differs. */
function assertSame(actual: Record<string, string>, expected: Record<string, string>): void {
  for (const [table] of TABLES) {
    const a = JSON.parse(actual[table]!) as unknown[];
    const e = JSON.parse(expected[table]!) as unknown[];
    const first = a.findIndex((row, i) => JSON.stringify(row) !== JSON.stringify(e[i]));
    assert.ok(
      a.length === e.length && first < 0,
      `${table}: ${a.length} rows rebuilt, ${e.length} live; first difference at ${first}: ${JSON.stringify(a[first])} vs ${JSON.stringify(e[first])}`,
    );
  }
}

async function rebuild(view: string): Promise<string> {
  const { stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli/rebuild.ts', view], {
    env: { ...process.env, DATABASE_URL: t.database.url },
  });
  return stderr;
}

/** Everything a busy day holds, through the API where it exists and the store for file events. */
async function workload(round: number): Promise<number> {
  const tag = `r${round}`;
  const appId = 1000 + round;
  await call(t.base, 'POST', '/api/v1/applications', {
    token: w.admin,
    body: { applicationId: appId, name: `App ${tag}, "quoted"` },
  });
  const users: number[] = [];
  for (const name of ['ann', 'ben', 'cat']) users.push(await w.createUser(`${name}-${tag}`));
  await call(t.base, 'PATCH', `/api/v1/users/${users[1]}`, {
    token: w.admin,
    body: { firstName: 'Ben', rights: ['auditor'] },
  });
  await call(t.base, 'POST', '/api/v1/sessions/open', {
    body: { userName: `ann-${tag}`, password: 'wrong-password', applicationId: appId, clientVersion: 'x' },
  });
  await call(t.base, 'POST', '/api/v1/sessions/open', {
    body: { userName: `ghost-${tag}`, password: 'nope', applicationId: appId, clientVersion: 'x' },
  });
  const sessions: Opened[] = [];
  sessions.push(await w.open(`ann-${tag}`, appId));
  sessions.push(await w.open(`ann-${tag}`, appId)); // replaces the first
  sessions.push(await w.openImmutable(`ben-${tag}`, 3));
  sessions.push(await w.openUserString(`cat-${tag}`, appId, `Ext, "${tag}"`));
  let last = 0;
  for (const [i, session] of sessions.slice(1).entries()) {
    const actor = await w.actorOf(session);
    await w.append(connectionOpened(session), actor);
    for (let j = 0; j < 5; j += 1) {
      await w.append(uploaded(`/in/${tag}/${i}-${j},x.csv`, `content ${tag} ${i} ${j}`), actor);
    }
    await w.append(downloaded(`/in/${tag}/${i}-0,x.csv`, `content ${tag} ${i} 0`), actor);
    await w.append(renamed(`/in/${tag}/${i}-1,x.csv`, `/archive/${tag}/${i}-1.csv`), actor);
    await w.append(deleted(`/in/${tag}/${i}-2,x.csv`, 12), actor);
    await w.append(denied(`/secret/${tag}`), actor);
    last = await w.append(aborted(`/in/${tag}/big-${i}`, 100 + i), actor);
  }
  await call(t.base, 'GET', '/api/v1/audit/events?limit=5&operation=file.upload', { token: w.admin });
  await call(t.base, 'GET', `/api/v1/sessions?userId=${users[0]}`, { token: w.admin });
  const closed = await call<{ position: number }>(t.base, 'POST', '/api/v1/sessions/close', {
    token: sessions[3]!.token,
  });
  await call(t.base, 'PATCH', `/api/v1/users/${users[2]}`, { token: w.admin, body: { enabled: false } });
  await call(t.base, 'DELETE', `/api/v1/users/${users[2]}`, { token: w.admin });
  return Math.max(last, closed.body.position);
}

before(async () => {
  t = await startTestSluice();
  w = await createWorld(t);
  db = t.database.open<ReadModel>({ max: 2 }).db;
});

after(async () => {
  await w?.close();
  await t?.stop();
});

describe('npm run rebuild -- <view>', () => {
  it('rebuilds the sessions, audit and files views from position 0 to exactly the live rows', async () => {
    let last = 0;
    for (let round = 0; round < 3; round += 1) last = await workload(round);
    // Expire the immutable sessions (fake clock), then sign in again.
    t.clock.advance(49 * 3600_000);
    assert.ok((await t.sluice.expiry.runOnce()) >= 1);
    const opened = await call<{ sessionId: string; position: number }>(
      t.base,
      'POST',
      '/api/v1/sessions/open',
      {
        body: { userName: 'ann-r0', password: PASSWORD, applicationId: 1000, clientVersion: 'x' },
      },
    );
    last = Math.max(last, opened.body.position, await w.signInAdmin());
    await w.settle(Math.max(last, await lastCommittedPosition(db)));
    const live = await snapshot();
    assert.ok(JSON.parse(live.audit_events!).length > 100);
    assert.ok(JSON.parse(live.sessions!).some((s: { end_reason: string }) => s.end_reason === 'expired'));
    assert.ok(JSON.parse(live.files!).length > 10);

    for (const view of VIEWS) {
      const log = await rebuild(view);
      assert.match(log, new RegExp(`${view} rebuilt up to position \\d+`));
    }
    const rebuilt = await snapshot();
    assertSame(rebuilt, live);
  });

  it('rebuilds while events keep arriving; the live runner then carries on to the same rows', async () => {
    const writes = (async () => {
      for (let round = 10; round < 13; round += 1) await workload(round);
    })();
    await Promise.all(VIEWS.map(rebuild));
    await writes;
    // Everything appended (the workload ends with changes whose replies carry no position).
    await w.settle(await lastCommittedPosition(db));
    const live = await snapshot();
    for (const view of VIEWS) await rebuild(view);
    const rebuilt = await snapshot();
    assertSame(rebuilt, live);
    const res = await call<{ items: unknown[] }>(t.base, 'GET', '/api/v1/audit/events?limit=5', {
      token: w.admin,
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.items.length, 5);
  });

  it('reads the events from KurrentDB when EVENTSTORE_URL is set: out of reach, one line and nothing changed', async () => {
    await w.settle(await lastCommittedPosition(db));
    const before = await snapshot();
    await assert.rejects(
      run(process.execPath, ['--import', 'tsx', 'src/cli/rebuild.ts', 'audit'], {
        env: {
          PATH: process.env.PATH,
          DATABASE_URL: t.database.url,
          EVENTSTORE_URL: 'esdb://admin:secret-pw@127.0.0.1:1?tls=false',
        },
      }),
      (error: { code: number; stderr: string }) => {
        assert.equal(error.code, 1);
        assert.match(
          error.stderr,
          /^rebuild: failed: cannot reach KurrentDB at esdb:\/\/admin@127\.0\.0\.1:1\?tls=false: /m,
        );
        assert.doesNotMatch(error.stderr, /secret-pw/);
        return true;
      },
    );
    assertSame(await snapshot(), before);
  });

  it('refuses an unknown view, and says how to reach the database', async () => {
    await assert.rejects(
      run(process.execPath, ['--import', 'tsx', 'src/cli/rebuild.ts', 'nonsense'], {
        env: { ...process.env, DATABASE_URL: t.database.url },
      }),
      (error: { code: number; stderr: string }) =>
        error.code === 2 && /unknown view "nonsense"/.test(error.stderr),
    );
    const dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-rebuild-'));
    try {
      await assert.rejects(
        run(process.execPath, ['--import', 'tsx', 'src/cli/rebuild.ts', 'audit'], {
          env: { PATH: process.env.PATH, MFT_DATA_DIR: dir },
        }),
        (error: { code: number; stderr: string }) => error.code === 2 && /pg-password/.test(error.stderr),
      );
      await writeFile(path.join(dir, 'pg-password'), 's3cret/+\n');
      assert.equal(
        rebuildDatabaseUrl({ MFT_DATA_DIR: dir, MFT_PG_PORT: '54400' }),
        'postgres://sluice:s3cret%2F%2B@127.0.0.1:54400/sluice',
      );
      assert.equal(rebuildDatabaseUrl({ DATABASE_URL: t.database.url, MFT_DATA_DIR: dir }), t.database.url);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
