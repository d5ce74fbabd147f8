/**
 * `npm run bench:merkle -- [--events=N] [--batch=N] [--proofs=N]`: the tamper-evident log's
 * Merkle tree over N events, on a throw-away embedded PostgreSQL (default settings and
 * durability). See bench/README.md.
 *
 *   --events=N   events in the log (default 1,000,000; env BENCH_EVENTS)
 *   --batch=N    projection runner batch size (default: the server's, DEFAULT_BATCH_SIZE; env BENCH_BATCH)
 *   --proofs=N   inclusion and consistency proofs asked for (default 500 each; env BENCH_PROOFS)
 *
 * 1. Load: N FileUploaded-like events (about 230 bytes of data, 220 of metadata) written
 *    straight into the events table by INSERT … SELECT generate_series, 100,000 per
 *    transaction: the tree, not the append path, is measured here (bench/event-store does that).
 * 2. In memory: the log read back through the EventStore port (readAll, pages of 5,000) alone,
 *    then again with each event's canonical bytes and leaf hash and the frontier (what verify
 *    computes): events/s, and the share of time spent encoding and hashing.
 * 3. The Merkle view from position 0 to the head through the ProjectionRunner (leaves, complete
 *    subtrees and frontier written, checkpoint per batch): events/s; its root must equal step 2's.
 * 4. A signed head, then `verify` (src/application/log-verification.ts: the log recomputed and
 *    compared with the view leaf by leaf, and the head checked): events/s.
 * 5. Proofs at random positions and sizes, from the view: latency of each query (not over HTTP),
 *    every proof checked with the RFC 9162 verifier.
 * 6. Sizes of the events table and of the view's tables.
 *
 * Prints tables only; writes no result files. Figures are for reading, never for assertions.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { sql } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { DatabaseHandle } from '../../src/adapters/database/connect.js';
import type { PostgresEventStore } from '../../src/adapters/eventstore/postgres/postgres-event-store.js';
import { keyIdOf, signatureCheck } from '../../src/adapters/log-key/log-key.js';
import type { ReadModel } from '../../src/adapters/readmodel/schema.js';
import { verifyLog } from '../../src/application/log-verification.js';
import { TreeHeads } from '../../src/application/tree-heads.js';
import { eventLeafHash } from '../../src/domain/merkle/event-leaf.js';
import { verifyConsistency, verifyInclusion } from '../../src/domain/merkle/proof-check.js';
import { Frontier } from '../../src/domain/merkle/tree-shape.js';
import {
  consistencyProof,
  currentTree,
  inclusionProof,
  storedLeaves,
} from '../../src/projections/merkle-proofs.js';
import { merkleProjection } from '../../src/projections/merkle-tree.js';
import { ProjectionRunner } from '../../src/projections/runner.js';
import { fmt, log, percentile, runLogBench, table } from '../support/common.js';

const CHUNK = 100_000;
const PAGE = 5000;

/** N events straight into the events table, 100,000 per transaction. */
async function load(db: DatabaseHandle<ReadModel>['db'], events: number): Promise<number> {
  const started = performance.now();
  for (let from = 1; from <= events; from += CHUNK) {
    const to = Math.min(events, from + CHUNK - 1);
    await sql`
      INSERT INTO events (global_position, transaction_id, stream_id, stream_revision, event_id, type, data, metadata, recorded_at)
      SELECT g, pg_current_xact_id(), 'transfer-' || (g % 5000), g / 5000, gen_random_uuid(), 'FileUploaded',
        jsonb_build_object('protocol', 'sftp',
          'path', '/partners/p' || lpad((g % 200)::text, 3, '0') || '/inbound/batch-' || g || '.csv',
          'size', (g * 7919) % 100000000, 'sha256', encode(sha256(g::text::bytea), 'hex'), 'overwrote', false),
        jsonb_build_object('envelopeVersion', 1, 'correlationId', gen_random_uuid(),
          'actor', jsonb_build_object('userId', 100000 + g % 1000, 'applicationId', 3, 'sessionId', gen_random_uuid(),
            'clientIp', '10.0.' || (g % 256) || '.' || (g % 251), 'clientPort', 40000 + g % 20000)),
        timestamptz '2026-01-01 00:00:00+00' + g * interval '1 millisecond' + (g % 1000) * interval '1 microsecond'
      FROM generate_series(${from}::bigint, ${to}::bigint) AS g`.execute(db);
    log(`  loaded ${fmt(to)} events`);
  }
  await sql`SELECT setval('events_position_seq', ${events})`.execute(db);
  return (performance.now() - started) / 1000;
}

/** The whole log read through the port; with `hash`, each event's leaf too, into a frontier. */
async function readLog(store: PostgresEventStore, head: number, hash: boolean) {
  const frontier = Frontier.empty();
  let hashing = 0;
  let after = 0;
  const started = performance.now();
  while (after < head) {
    const page = await store.readAll({ after, limit: PAGE });
    if (page.length === 0) break;
    if (hash) {
      const t0 = performance.now();
      for (const event of page) frontier.append(eventLeafHash(event));
      hashing += performance.now() - t0;
    }
    after = page.at(-1)!.globalPosition;
  }
  return { seconds: (performance.now() - started) / 1000, hashingSeconds: hashing / 1000, frontier };
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { ms: performance.now() - started, value };
}

function latencyRow(name: string, ms: number[]): string[] {
  const sorted = [...ms].sort((a, b) => a - b);
  return [
    name,
    fmt(ms.length),
    fmt(percentile(sorted, 50), 2),
    fmt(percentile(sorted, 95), 2),
    fmt(sorted.at(-1)!, 2),
  ];
}

runLogBench(
  'bench:merkle',
  'Sluice Merkle tree benchmark',
  {
    events: 1_000_000,
    own: { proofs: { env: 'BENCH_PROOFS', fallback: 500 } },
    describe: (o) => `proofs: ${o.proofs} of each kind`,
  },
  async (options, { db, store, onCleanup }) => {
    log(`loading ${fmt(options.events)} events`);
    const loadSeconds = await load(db, options.events);
    await sql`CHECKPOINT`.execute(db);
    await sql`VACUUM ANALYZE events`.execute(db);
    const head = await store.headPosition();
    const n = options.events;
    const rows: string[][] = [];
    const rate = (name: string, seconds: number, note = '') =>
      rows.push([name, fmt(seconds, 1), fmt(n / seconds), note]);

    log('reading the log (warm-up, then timed)');
    await readLog(store, head, false);
    const read = await readLog(store, head, false);
    rate('read the log (readAll, pages of 5,000)', read.seconds);
    log('reading the log and computing the tree in memory');
    const memory = await readLog(store, head, true);
    rate(
      'read + canonical bytes + leaf hash + frontier',
      memory.seconds,
      `encoding and hashing alone ${fmt(memory.hashingSeconds, 1)} s (${fmt(n / memory.hashingSeconds)} events/s)`,
    );

    log('projecting the Merkle view from 0');
    const runner = new ProjectionRunner({
      store,
      db,
      projections: [merkleProjection],
      batchSize: options.batch,
    });
    onCleanup(() => runner.stop());
    const projectStarted = performance.now();
    await runner.start();
    while (!(await runner.waitForPosition(head, 10_000))) {
      const at = runner.positions()[merkleProjection.name] ?? 0;
      log(
        `  merkle: at ${fmt(at)} of ${fmt(head)} (${fmt(at / ((performance.now() - projectStarted) / 1000))} events/s)`,
      );
    }
    const projectSeconds = (performance.now() - projectStarted) / 1000;
    const tree = await currentTree(db);
    if (!tree.rootHash.equals(memory.frontier.root()) || tree.size !== n) {
      throw new Error('the Merkle view disagrees with the tree computed in memory');
    }
    rate(
      `Merkle view from 0 (ProjectionRunner, batch ${options.batch})`,
      projectSeconds,
      'root equals the in-memory one',
    );
    await sql`CHECKPOINT`.execute(db);
    await sql`ANALYZE`.execute(db);

    log('signing a head, then verifying the log');
    const key = generateKeyPairSync('ed25519');
    const heads = new TreeHeads({
      store,
      clock: { now: () => new Date() },
      ids: { uuid: uuidv7 },
      signer: {
        keyId: keyIdOf(key.publicKey),
        publicKeyPem: key.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        sign: (message) => sign(null, message, key.privateKey).toString('base64'),
      },
      tree: () => currentTree(db),
      waitForTree: (position, ms) => runner.waitForPosition(position, ms),
    });
    const signed = await timed(() => heads.sign({ correlationId: uuidv7(), clientIp: '127.0.0.1' }));
    await runner.waitForPosition(signed.value.position, 60_000);
    const verified = await timed(() =>
      verifyLog({
        store,
        viewLeaves: (from, limit) => storedLeaves(db, from, limit),
        viewPosition: async () => runner.positions()[merkleProjection.name] ?? 0,
        checkSignature: signatureCheck([key.publicKey]),
      }),
    );
    if (!verified.value.ok || verified.value.heads.agreeing !== 1) throw new Error('verify found problems');
    rate('verify (log recomputed, compared with the view, head checked)', verified.ms / 1000);

    log(`asking for ${options.proofs} inclusion and ${options.proofs} consistency proofs`);
    const size = signed.value.treeSize;
    const root = Buffer.from(signed.value.rootHash, 'hex');
    const inclusion: number[] = [];
    const consistency: number[] = [];
    for (let i = 0; i < options.proofs; i += 1) {
      const position = 1 + Math.floor(Math.random() * n);
      const proof = await timed(() => inclusionProof(db, position, size));
      inclusion.push(proof.ms);
      if (!verifyInclusion(proof.value.leafIndex, size, proof.value.leafHash, proof.value.auditPath, root)) {
        throw new Error(`inclusion proof of ${position} does not verify`);
      }
      const first = 1 + Math.floor(Math.random() * size);
      const linked = await timed(() => consistencyProof(db, first, size));
      consistency.push(linked.ms);
      if (!verifyConsistency(first, size, linked.value.firstRootHash, root, linked.value.proof)) {
        throw new Error(`consistency proof ${first} → ${size} does not verify`);
      }
    }

    const sizes = await sql<{ name: string; table: string; indexes: string; total: string }>`
      SELECT relname AS name, pg_size_pretty(pg_table_size(oid)) AS table,
        pg_size_pretty(pg_indexes_size(oid)) AS indexes, pg_size_pretty(pg_total_relation_size(oid)) AS total
      FROM pg_class WHERE relname IN ('events', 'merkle_leaves', 'merkle_nodes', 'merkle_frontier')
      ORDER BY pg_total_relation_size(oid) DESC`.execute(db);

    return [
      table(
        `Load: ${fmt(n)} events in ${fmt(loadSeconds, 1)} s (INSERT … SELECT, not through the port)`,
        ['step', 'seconds', 'events/s', 'note'],
        rows,
      ),
      table(
        `Proofs from the view at tree size ${fmt(size)} (each checked with the RFC 9162 verifier)`,
        ['proof', 'asked', 'p50 ms', 'p95 ms', 'max ms'],
        [
          latencyRow('inclusion (random leaf)', inclusion),
          latencyRow('consistency (random first size)', consistency),
        ],
      ),
      table(
        'Sizes',
        ['table', 'table', 'indexes', 'total'],
        sizes.rows.map((r) => [r.name, r.table, r.indexes, r.total]),
      ),
    ];
  },
);
