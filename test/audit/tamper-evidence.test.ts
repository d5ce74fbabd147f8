/**
 * Tamper evidence over real HTTP (curl), every answer checked by an independent implementation
 * (docs/examples/verify_log.py: Python's hashlib, and the cryptography package for Ed25519)
 * from events read straight out of the events table: the log key and its file, signed tree
 * heads, inclusion and consistency proofs, the whole log recomputed, the verification call, who
 * may use them, what bad input gets, and the Merkle view rebuilt row for row.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type pg from 'pg';
import { curl } from '../support/curl.js';
import { startTestSluice, type TestSluice } from '../support/sluice.js';
import { allEventLines, eventLine, jsonFile, verifyLogPy } from './log-support.js';
import { createWorld, uploaded, type World } from './support.js';

const run = promisify(execFile);

interface Head {
  treeSize: number;
  lastPosition: number;
  rootHash: string;
  timestamp: string;
  keyId: string;
  signature: string;
  position: number;
}

let t: TestSluice;
let w: World;
let pool: pg.Pool;
let dir: string;
let auditor: string;
let auditorId: number;
let plain: string;
let pem: string;

const get = (token: string | undefined, route: string) =>
  curl([...(token ? ['-H', `authorization: Bearer ${token}`] : []), `${t.base}/api/v1/audit${route}`]);
const post = (token: string | undefined, route: string) =>
  curl([
    '-X',
    'POST',
    ...(token ? ['-H', `authorization: Bearer ${token}`] : []),
    `${t.base}/api/v1/audit${route}`,
  ]);

async function signHead(): Promise<Head> {
  const res = await post(auditor, '/tree-heads');
  assert.equal(res.status, 201, res.body);
  return res.json<Head>();
}

async function uploads(count: number, tag: string): Promise<number> {
  const session = await w.openImmutable('pat', 3);
  const actor = await w.actorOf(session);
  let last = 0;
  for (let i = 0; i < count; i += 1) {
    // Text that JSON escapes, and characters outside the BMP: the canonical bytes must agree.
    last = await w.append(uploaded(`/in/${tag}-${i}, "q".csv`, `content ${i} \\ ünï ✓ \u{1f600}\n\t`), actor);
  }
  return last;
}

async function eventCount(): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM events');
  return Number(rows[0]!.n);
}

describe('tamper evidence over HTTP, checked in Python', () => {
  before(async () => {
    t = await startTestSluice();
    w = await createWorld(t);
    pool = t.database.open({ max: 2 }).pool;
    dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-merkle-'));
    auditorId = await w.createUser('audrey', { rights: ['auditor'] });
    auditor = (await w.openImmutable('audrey', 1)).token;
    await w.createUser('pat');
    plain = (await w.openImmutable('pat', 2)).token;
    await uploads(20, 'a');
    const key = await get(auditor, '/log-key');
    assert.equal(key.status, 200, key.body);
    pem = await jsonFile(dir, 'log-key.pem', key.json<{ publicKey: string }>().publicKey);
  });
  after(async () => {
    await w.close();
    await t.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('publishes the public key; the private key stays in a 0600 file, out of the log', async () => {
    const key = (await get(auditor, '/log-key')).json<{
      keyId: string;
      algorithm: string;
      publicKey: string;
    }>();
    assert.equal(key.algorithm, 'Ed25519');
    // The key id, recomputed with OpenSSL: SHA-256 of the DER SubjectPublicKeyInfo.
    const der = await run('sh', ['-c', `openssl pkey -pubin -in "${pem}" -outform DER | sha256sum`]);
    assert.equal(der.stdout.split(' ')[0], key.keyId);
    const file = path.join(t.dataDir, 'log-key', 'ed25519.pem');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(path.dirname(file))).mode & 0o777, 0o700);
    const secret = (await readFile(file, 'utf8')).split('\n')[1]!;
    assert.match(secret, /^[A-Za-z0-9+/=]{40,}$/);
    const { rows } = await pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM events WHERE data::text || metadata::text LIKE '%' || $1 || '%'",
      [secret],
    );
    assert.equal(Number(rows[0]!.n), 0);
  });

  it('signs a tree head on demand, recorded as an event with its caller, and Python verifies the signature', async () => {
    const head = await signHead();
    const headFile = await jsonFile(dir, 'head.json', head);
    assert.deepEqual(await verifyLogPy(['head', headFile, pem]), { code: 0, stdout: 'OK\n', stderr: '' });
    const forged = await jsonFile(dir, 'forged.json', { ...head, treeSize: head.treeSize - 1 });
    const refused = await verifyLogPy(['head', forged, pem]);
    assert.equal(refused.code, 1);
    assert.match(refused.stdout, /FAIL the signature does not verify/);

    const recorded = JSON.parse(await eventLine(pool, head.position)) as {
      type: string;
      stream: string;
      data: Record<string, unknown>;
      metadata: { actor: { userId?: number } };
    };
    const { position: _position, ...data } = head;
    assert.equal(recorded.type, 'TreeHeadSigned');
    assert.equal(recorded.stream, 'log-tree-heads');
    assert.deepEqual(recorded.data, data);
    assert.equal(recorded.metadata.actor.userId, auditorId);
    // It covers every event recorded before the call, and none after.
    assert.ok(head.lastPosition < head.position);
  });

  it('proves inclusion of the first, a middle and the last event; Python checks each against the head', async () => {
    await uploads(5, 'b');
    const head = await signHead();
    const headFile = await jsonFile(dir, 'head.json', head);
    const { rows } = await pool.query<{ p: string }>(
      'SELECT global_position AS p FROM events WHERE global_position <= $1 ORDER BY global_position',
      [head.lastPosition],
    );
    const positions = rows.map((r) => Number(r.p));
    assert.equal(positions.length, head.treeSize);
    for (const leafIndex of [0, 1, Math.floor(head.treeSize / 2), head.treeSize - 2, head.treeSize - 1]) {
      const position = positions[leafIndex]!;
      const res = await get(auditor, `/proof/inclusion?position=${position}&treeSize=${head.treeSize}`);
      assert.equal(res.status, 200, res.body);
      const proof = res.json<{ leafIndex: number; rootHash: string; auditPath: string[] }>();
      assert.equal(proof.leafIndex, leafIndex);
      assert.equal(proof.rootHash, head.rootHash);
      const proofFile = await jsonFile(dir, 'proof.json', proof);
      const eventFile = await jsonFile(dir, 'event.json', await eventLine(pool, position));
      const checked = await verifyLogPy(['inclusion', proofFile, eventFile, headFile]);
      assert.deepEqual(checked, { code: 0, stdout: 'OK\n', stderr: '' }, `position ${position}`);
      // The same proof does not pass for another event.
      const other = await jsonFile(
        dir,
        'other.json',
        await eventLine(pool, positions[(leafIndex + 1) % positions.length]!),
      );
      assert.equal((await verifyLogPy(['inclusion', proofFile, other, headFile])).code, 1);
    }
    // Without treeSize: in the whole tree as it stands.
    const latest = await get(auditor, `/proof/inclusion?position=${positions[3]}`);
    assert.equal(latest.status, 200, latest.body);
    assert.ok(latest.json<{ treeSize: number }>().treeSize >= head.treeSize);
  });

  it('proves consistency between two heads; Python checks the proof links their roots', async () => {
    const first = await signHead();
    await uploads(7, 'c');
    const second = await signHead();
    const heads = [await jsonFile(dir, 'first.json', first), await jsonFile(dir, 'second.json', second)];
    for (const [a, b, files] of [
      [first, second, heads],
      [first, first, [heads[0]!, heads[0]!]],
      [{ treeSize: 1 }, second, undefined],
      [{ treeSize: 3 }, first, undefined],
    ] as const) {
      const res = await get(auditor, `/proof/consistency?first=${a.treeSize}&second=${b.treeSize}`);
      assert.equal(res.status, 200, res.body);
      const proofFile = await jsonFile(dir, 'consistency.json', res.body);
      const checked = await verifyLogPy(['consistency', proofFile, ...(files ?? [])]);
      assert.deepEqual(checked, { code: 0, stdout: 'OK\n', stderr: '' }, `${a.treeSize} → ${b.treeSize}`);
    }
    // A proof between other sizes does not link these heads.
    const res = await get(
      auditor,
      `/proof/consistency?first=${first.treeSize - 1}&second=${second.treeSize}`,
    );
    const proofFile = await jsonFile(dir, 'consistency.json', res.body);
    const wrong = await verifyLogPy(['consistency', proofFile, ...heads]);
    assert.equal(wrong.code, 1);
  });

  it('recomputes the whole log in Python: every recorded head matches the events before it', async () => {
    await signHead();
    const lines = await allEventLines(pool);
    const checked = await verifyLogPy(['root', pem], lines);
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);
    const [count, root] = checked.stdout.split('\n')[0]!.split(' ');
    assert.equal(Number(count), lines.split('\n').length - 1);
    // A copy of the log with one event changed no longer matches its heads.
    const changed = lines.replace('/in/a-3,', '/in/a-4,');
    assert.ok(changed !== lines, 'an event was changed');
    const refused = await verifyLogPy(['root', pem], changed);
    assert.equal(refused.code, 1);
    assert.match(refused.stdout, /FAIL the head at position \d+ does not match/);
    assert.notEqual(refused.stdout.split(' ')[1], root);
  });

  it('runs the Python snippet of docs/tamper-evidence.md as printed: every head matches', async () => {
    const doc = await readFile('docs/tamper-evidence.md', 'utf8');
    const snippet = /```python\n([\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(snippet, 'the doc has a Python snippet');
    await jsonFile(dir, 'events.ndjson', await allEventLines(pool));
    const { stdout } = await run('/usr/bin/python3', ['-c', snippet], { cwd: dir });
    const lines = stdout.trim().split('\n');
    const { rows } = await pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM events WHERE type = 'TreeHeadSigned'",
    );
    assert.equal(lines.length, Number(rows[0]!.n));
    for (const line of lines) assert.match(line, /^\d+ OK$/);
  });

  it('verifies the log through the API: everything agrees', async () => {
    const res = await get(auditor, '/verify');
    assert.equal(res.status, 200, res.body);
    const report = res.json<{
      ok: boolean;
      heads: { checked: number; agreeing: number };
      firstBadPosition: number | null;
      problems: unknown[];
      treeSize: number;
    }>();
    assert.deepEqual(report.problems, []);
    assert.equal(report.ok, true);
    assert.equal(report.firstBadPosition, null);
    assert.ok(report.heads.checked >= 4);
    assert.equal(report.heads.agreeing, report.heads.checked);
  });

  it('documents every call in the OpenAPI document', async () => {
    const doc = (await curl([`${t.base}/openapi.json`])).json<{
      paths: Record<string, Record<string, unknown>>;
    }>();
    for (const [route, method] of [
      ['/api/v1/audit/log-key', 'get'],
      ['/api/v1/audit/tree-heads', 'post'],
      ['/api/v1/audit/proof/inclusion', 'get'],
      ['/api/v1/audit/proof/consistency', 'get'],
      ['/api/v1/audit/verify', 'get'],
    ] as const) {
      assert.ok(doc.paths[route]?.[method], `${method} ${route} documented`);
    }
  });

  it('answers only admins and auditors; anyone else is refused and nothing is recorded', async () => {
    const before = await eventCount();
    for (const token of [plain, undefined]) {
      for (const res of [
        await get(token, '/log-key'),
        await post(token, '/tree-heads'),
        await get(token, '/proof/inclusion?position=1&treeSize=1'),
        await get(token, '/proof/consistency?first=1&second=2'),
        await get(token, '/verify'),
      ]) {
        assert.equal(res.status, token ? 403 : 401, res.body);
        assert.match(res.headers['content-type'] ?? '', /application\/problem\+json/);
      }
    }
    assert.equal(await eventCount(), before);
    assert.equal((await get(w.admin, '/log-key')).status, 200);
  });

  it('answers bad questions with problems and changes nothing', async () => {
    const head = await signHead();
    const before = await eventCount();
    const { rows } = await pool.query<{ p: string }>(
      'SELECT global_position AS p FROM events ORDER BY global_position LIMIT 2',
    );
    const second = Number(rows[1]!.p);
    const cases: Array<[string, number, string]> = [
      ['/proof/inclusion?position=999999999&treeSize=1', 404, 'position-not-found'],
      [`/proof/inclusion?position=${second}&treeSize=${head.treeSize + 1000}`, 400, 'tree-size-too-large'],
      [`/proof/inclusion?position=${second}&treeSize=1`, 400, 'position-outside-tree'],
      ['/proof/inclusion?position=0&treeSize=1', 400, 'validation'],
      ['/proof/inclusion?position=abc', 400, 'validation'],
      ['/proof/inclusion?treeSize=1', 400, 'validation'],
      [`/proof/inclusion?position=${second}&treeSize=0`, 400, 'validation'],
      [`/proof/inclusion?position=${second}&colour=blue`, 400, 'validation'],
      ['/proof/consistency?first=5&second=4', 400, 'invalid-range'],
      [`/proof/consistency?first=1&second=${head.treeSize + 1000}`, 400, 'tree-size-too-large'],
      ['/proof/consistency?first=0&second=4', 400, 'validation'],
      ['/proof/consistency?first=2', 400, 'validation'],
    ];
    for (const [route, status, type] of cases) {
      const res = await get(auditor, route);
      assert.equal(res.status, status, `${route}: ${res.body}`);
      assert.match(res.headers['content-type'] ?? '', /application\/problem\+json/);
      assert.equal(res.json<{ type: string }>().type, `/problems/${type}`, route);
    }
    assert.equal(await eventCount(), before);
  });

  it('rebuilds the Merkle view from position 0 row for row', async () => {
    const head = await signHead();
    assert.ok(await t.sluice.runner.waitForPosition(head.position, 60_000, 'merkle'));
    const tables = {
      merkle_leaves: 'leaf_index',
      merkle_nodes: 'level, node_index',
      merkle_frontier: 'id',
    };
    const snapshot = async () => {
      const out: Record<string, unknown[]> = {};
      for (const [table, order] of Object.entries(tables)) {
        out[table] = (await pool.query(`SELECT * FROM ${table} ORDER BY ${order}`)).rows;
      }
      return out;
    };
    const live = await snapshot();
    assert.ok((live.merkle_leaves?.length ?? 0) >= head.treeSize);
    const { stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli/rebuild.ts', 'merkle'], {
      env: { ...process.env, DATABASE_URL: t.database.url },
    });
    assert.match(stderr, /merkle rebuilt up to position \d+/);
    assert.deepEqual(await snapshot(), live);
  });
});
