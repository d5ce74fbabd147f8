/**
 * Tampering as a database administrator could: with the immutability trigger disabled inside a
 * transaction, UPDATE one event's data, DELETE one row, swap two events' positions. Then
 * `npm run verify` (a subprocess, as an operator runs it) and GET /api/v1/audit/verify name the
 * first position altered. Each alteration is undone afterwards and both agree again, so what
 * they name is the alteration, not noise. Then what the view cannot show: a view rebuilt from
 * an altered log leaves only the range between two heads, and a head kept outside Sluice
 * catches an alteration that the heads left in the log no longer cover.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type pg from 'pg';
import type { VerificationReport } from '../../src/application/log-verification.js';
import { call, startTestSluice, type TestSluice } from '../support/sluice.js';
import { jsonFile } from './log-support.js';
import { createWorld, uploaded, type World } from './support.js';

const run = promisify(execFile);

interface Head {
  treeSize: number;
  lastPosition: number;
  rootHash: string;
  position: number;
}

let t: TestSluice;
let w: World;
let pool: pg.Pool;
let dir: string;
const heads: Head[] = [];
/** Positions of uploads: the first few before the first head, the rest between heads. */
const early: number[] = [];
const middle: number[] = [];

async function signHead(): Promise<Head> {
  const res = await call<Head>(t.base, 'POST', '/api/v1/audit/tree-heads', { token: w.admin });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.ok(await t.sluice.runner.waitForPosition(res.body.position, 60_000, 'merkle'));
  return res.body;
}

async function uploads(count: number, tag: string): Promise<number[]> {
  const actor = await w.actorOf(await w.openImmutable('dana', 3));
  const positions: number[] = [];
  for (let i = 0; i < count; i += 1)
    positions.push(await w.append(uploaded(`/in/${tag}-${i}.csv`, `${tag} ${i}`), actor));
  return positions;
}

/** Runs `statements` as a DBA would: the immutability trigger off, in one transaction. */
async function asDba(...statements: Array<[string, unknown[]]>): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('ALTER TABLE events DISABLE TRIGGER events_no_update_delete');
    for (const [text, values] of statements) await client.query(text, values);
    await client.query('ALTER TABLE events ENABLE TRIGGER events_no_update_delete');
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}

/** Sets one event's data to `change` (SQL over `data`) as a DBA would, runs `check`, then puts it back. */
async function whileAltered(position: number, change: string, check: () => Promise<void>): Promise<void> {
  const { rows } = await pool.query<{ data: unknown }>('SELECT data FROM events WHERE global_position = $1', [
    position,
  ]);
  await asDba([`UPDATE events SET data = ${change} WHERE global_position = $1`, [position]]);
  try {
    await check();
  } finally {
    await asDba(['UPDATE events SET data = $2 WHERE global_position = $1', [position, rows[0]!.data]]);
  }
}

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `npm run verify -- <args>` against the test database; resolves whatever its exit status. */
async function verifyCli(args: readonly string[] = [], env: Record<string, string> = {}): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/verify.ts', ...args],
      {
        env: { ...process.env, DATABASE_URL: t.database.url, MFT_DATA_DIR: t.dataDir, ...env },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** The report of `npm run verify -- --json`, and the API's, which must say the same. */
async function verify(args: readonly string[] = []): Promise<{ code: number; report: VerificationReport }> {
  const cli = await verifyCli(['--json', ...args]);
  assert.ok(cli.code === 0 || cli.code === 1, cli.stderr);
  const report = JSON.parse(cli.stdout) as VerificationReport;
  assert.equal(cli.code, report.ok ? 0 : 1);
  if (args.length === 0) {
    const api = await call<VerificationReport>(t.base, 'GET', '/api/v1/audit/verify', { token: w.admin });
    assert.equal(api.status, 200);
    assert.equal(api.body.ok, report.ok);
    assert.equal(api.body.firstBadPosition, report.firstBadPosition);
  }
  return { code: cli.code, report };
}

async function assertAgrees(): Promise<void> {
  const { report } = await verify();
  assert.deepEqual(report.problems, []);
  assert.equal(report.ok, true);
  assert.equal(report.heads.agreeing, report.heads.checked);
}

const kinds = (report: VerificationReport) => report.problems.map((p) => `${p.kind}@${p.position ?? '-'}`);

function rebuildView(): Promise<unknown> {
  return run(process.execPath, ['--import', 'tsx', 'src/cli/rebuild.ts', 'merkle'], {
    env: { ...process.env, DATABASE_URL: t.database.url },
  });
}

describe('verify names what a database administrator changed', () => {
  before(async () => {
    t = await startTestSluice();
    w = await createWorld(t);
    pool = t.database.open({ max: 2 }).pool;
    dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-tamper-'));
    await w.createUser('dana');
    early.push(...(await uploads(6, 'early')));
    heads.push(await signHead());
    middle.push(...(await uploads(12, 'middle')));
    heads.push(await signHead());
    await uploads(4, 'late');
    heads.push(await signHead());
  });
  after(async () => {
    await w.close();
    await t.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('finds nothing wrong with an untouched log, and says so', async () => {
    await assertAgrees();
    const human = await verifyCli();
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /verify: OK: the log agrees with the Merkle view and every signed head/);
    assert.match(human.stdout, /3 signed heads checked, 3 agree/);
    // Without the trigger switched off, the table refuses.
    await assert.rejects(
      pool.query('UPDATE events SET data = data WHERE global_position = $1', [early[0]]),
      /events are immutable/,
    );
  });

  it('names an event whose data was updated', async () => {
    const position = middle[4]!;
    await whileAltered(position, `jsonb_set(data, '{size}', '999')`, async () => {
      const { code, report } = await verify();
      assert.equal(code, 1);
      assert.equal(report.firstBadPosition, position);
      assert.deepEqual(kinds(report).slice(0, 1), [`event-changed@${position}`]);
      // The two heads that cover it disagree; the view agrees with them, so the position is proven.
      const mismatches = report.problems.filter((p) => p.kind === 'head-mismatch');
      assert.equal(mismatches.length, 2);
      for (const p of mismatches) assert.match(p.message, /The Merkle view agrees with the head/);
      const human = await verifyCli();
      assert.equal(human.code, 1);
      assert.match(human.stdout, new RegExp(`DISAGREEMENT: the first bad position is ${position}\\n`));
    });
    await assertAgrees();
  });

  it('names a deleted row', async () => {
    const position = early[2]!;
    const { rows } = await pool.query(
      'SELECT global_position, transaction_id::text AS xid, stream_id, stream_revision, event_id, type, data, metadata, recorded_at::text AS recorded_at FROM events WHERE global_position = $1',
      [position],
    );
    const row = rows[0] as Record<string, unknown>;
    await asDba(['DELETE FROM events WHERE global_position = $1', [position]]);

    const { report } = await verify();
    assert.equal(report.firstBadPosition, position);
    assert.deepEqual(kinds(report).slice(0, 1), [`event-missing@${position}`]);
    assert.equal(report.problems.filter((p) => p.kind === 'head-mismatch').length, 3);

    await asDba([
      `INSERT INTO events (global_position, transaction_id, stream_id, stream_revision, event_id, type, data, metadata, recorded_at)
       VALUES ($1, $2::xid8, $3, $4, $5, $6, $7, $8, $9)`,
      [
        row.global_position,
        row.xid,
        row.stream_id,
        row.stream_revision,
        row.event_id,
        row.type,
        row.data,
        row.metadata,
        row.recorded_at,
      ],
    ]);
    await assertAgrees();
  });

  it('names the first of two events whose positions were swapped', async () => {
    const [a, b] = [middle[2]!, middle[7]!];
    const swap: Array<[string, unknown[]]> = [
      ['UPDATE events SET global_position = -1 WHERE global_position = $1', [a]],
      ['UPDATE events SET global_position = $1 WHERE global_position = $2', [a, b]],
      ['UPDATE events SET global_position = $1 WHERE global_position = -1', [b]],
    ];
    await asDba(...swap);

    const { report } = await verify();
    assert.equal(report.firstBadPosition, a);
    assert.deepEqual(kinds(report).slice(0, 2), [`event-changed@${a}`, `event-changed@${b}`]);

    await asDba(...swap);
    await assertAgrees();
  });

  it('names an event recorded after the last head against the view, and says no head covers it yet', async () => {
    const [position] = await uploads(2, 'unsigned');
    assert.ok(await t.sluice.runner.waitForPosition(position! + 1, 60_000, 'merkle'));
    await whileAltered(position!, `jsonb_set(data, '{size}', '0')`, async () => {
      const { report } = await verify();
      assert.equal(report.firstBadPosition, position);
      assert.deepEqual(kinds(report), [`event-changed@${position}`]);
      assert.match(report.problems[0]!.message, /no signed head covers it yet/);
    });
    await assertAgrees();
  });

  it('blames the view, not the log, when only the view was altered', async () => {
    const position = early[4]!;
    await pool.query('UPDATE merkle_leaves SET hash = sha256(hash) WHERE global_position = $1', [position]);
    const { code, report } = await verify();
    assert.equal(code, 1);
    assert.equal(report.firstBadPosition, null);
    assert.deepEqual(kinds(report), [`view-altered@${position}`]);
    await rebuildView();
    await assertAgrees();
  });

  it('names only the range between two heads when the view was rebuilt from the altered log', async () => {
    const position = middle[9]!;
    await whileAltered(position, `jsonb_set(data, '{path}', '"/in/elsewhere.csv"')`, async () => {
      await rebuildView();
      const { code, report } = await verify();
      assert.equal(code, 1);
      assert.equal(report.firstBadPosition, null);
      const [first] = report.problems;
      assert.equal(first?.kind, 'head-mismatch');
      assert.deepEqual(first.range, { after: heads[0]!.lastPosition, upTo: heads[1]!.lastPosition });
      assert.ok(position > heads[0]!.lastPosition && position <= heads[1]!.lastPosition);
      assert.match(first.message, /The Merkle view differs from the head too/);
      assert.match((await verifyCli()).stdout, /DISAGREEMENT: no single position can be named/);
    });
    await rebuildView();
    await assertAgrees();
  });

  it('catches with a head kept outside Sluice what the heads in the log no longer cover', async () => {
    const saved = await jsonFile(dir, 'heads.ndjson', `${heads.map((h) => JSON.stringify(h)).join('\n')}\n`);
    assert.equal((await verify(['--heads', saved])).report.heads.agreeing, 6);
    // Remove an event after the first head, and the two heads that cover it, then rebuild the view.
    const position = middle[5]!;
    await asDba([
      'DELETE FROM events WHERE global_position = ANY($1::bigint[])',
      [[position, heads[1]!.position, heads[2]!.position]],
    ]);
    await uploads(1, 'after'); // the server goes on recording
    await rebuildView();
    const inside = await verify();
    assert.equal(inside.report.ok, true, 'the log alone cannot tell');
    assert.equal(inside.report.heads.checked, 1);

    const outside = await verify(['--heads', saved]);
    assert.equal(outside.code, 1);
    const mismatch = outside.report.problems.find((p) => p.kind === 'head-mismatch');
    assert.deepEqual(mismatch?.range, { after: heads[0]!.lastPosition, upTo: heads[1]!.lastPosition });
    assert.match(mismatch.message, /saved head 2/);
  });

  it('refuses bad arguments and says when it cannot run', async () => {
    for (const [args, message] of [
      [['--bogus'], /Unknown option '--bogus'/],
      [['extra'], /usage: npm run verify/],
      [['--batch-size=0'], /--batch-size must be a whole number/],
      [['--public-key', path.join(dir, 'absent.pem')], /--public-key: .*absent\.pem/],
      [['--heads', path.join(dir, 'absent.json')], /--heads: /],
    ] as const) {
      const result = await verifyCli(args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.equal(result.stdout, '');
    }
    const down = await verifyCli([], { DATABASE_URL: 'postgres://nobody:secret-pw@127.0.0.1:1/sluice' });
    assert.equal(down.code, 3);
    assert.match(down.stderr, /^verify: failed: /m);
    assert.doesNotMatch(down.stderr, /secret-pw/);
  });
});
