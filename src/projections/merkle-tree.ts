/**
 * The `merkle` view: an RFC 6962 Merkle tree over every event of the log in global-position
 * order, one leaf per event (src/domain/merkle/event-leaf.ts), whatever its type and whether
 * or not the catalogue knows it. It keeps each leaf hash by leaf index and position
 * (`merkle_leaves`), every complete subtree above them (`merkle_nodes`: proofs are folded from
 * at most log₂ n of these per range, never re-hashed from the events), and the frontier
 * (`merkle_frontier`) that the next batch starts from, so a batch costs one read of one row
 * and one write, whatever the tree's size.
 *
 * Like every view it can be rebuilt from position 0 and must come out the same, which is how
 * the tree is compared with the log: `npm run verify` (src/application/log-verification.ts)
 * recomputes it from the events and holds it against these rows and the signed tree heads.
 * The leaf hashes are computed while the batch before is written (`prepare`).
 */
import { type Kysely, sql } from 'kysely';
import type { ReadModel } from '../adapters/readmodel/schema.js';
import type { RecordedEvent } from '../domain/event-store.js';
import { eventLeafHash } from '../domain/merkle/event-leaf.js';
import { Frontier } from '../domain/merkle/tree-shape.js';
import { EVERY_EVENT, type LogProjection } from './projection.js';

interface Leaf {
  readonly position: number;
  readonly hash: Buffer;
}

const leavesOf = (events: readonly RecordedEvent[]): Leaf[] =>
  events.map((event) => ({ position: event.globalPosition, hash: eventLeafHash(event) }));

/** The frontier as stored (the empty tree when there is no row yet). */
export async function readFrontier(
  db: Kysely<ReadModel>,
): Promise<{ frontier: Frontier; lastPosition: number }> {
  const { rows } = await sql<{ tree_size: string; last_position: string; hashes: Buffer[] }>`
    SELECT tree_size, last_position, hashes FROM merkle_frontier WHERE id = 1`.execute(db);
  const row = rows[0];
  if (!row) return { frontier: Frontier.empty(), lastPosition: 0 };
  return {
    frontier: Frontier.of(Number(row.tree_size), row.hashes),
    lastPosition: Number(row.last_position),
  };
}

async function appendLeaves(trx: Kysely<ReadModel>, leaves: readonly Leaf[]): Promise<void> {
  const { frontier } = await readFrontier(trx);
  const leafIndexes: number[] = [];
  const nodeLevels: number[] = [];
  const nodeIndexes: number[] = [];
  const nodeHashes: Buffer[] = [];
  for (const leaf of leaves) {
    leafIndexes.push(frontier.size);
    frontier.append(leaf.hash, (node) => {
      if (node.level === 0) return;
      nodeLevels.push(node.level);
      nodeIndexes.push(node.index);
      nodeHashes.push(node.hash);
    });
  }
  await sql`
    WITH leaves AS (
      INSERT INTO merkle_leaves (leaf_index, global_position, hash)
      SELECT * FROM unnest(${leafIndexes}::bigint[], ${leaves.map((l) => l.position)}::bigint[],
        ${leaves.map((l) => l.hash)}::bytea[])
    ), nodes AS (
      INSERT INTO merkle_nodes (level, node_index, hash)
      SELECT * FROM unnest(${nodeLevels}::smallint[], ${nodeIndexes}::bigint[], ${nodeHashes}::bytea[])
    )
    INSERT INTO merkle_frontier (id, tree_size, last_position, hashes)
    VALUES (1, ${frontier.size}, ${leaves.at(-1)!.position}, ${[...frontier.edge()]}::bytea[])
    ON CONFLICT (id) DO UPDATE SET tree_size = excluded.tree_size,
      last_position = excluded.last_position, hashes = excluded.hashes`.execute(trx);
}

export const merkleProjection: LogProjection = {
  name: 'merkle',
  handles: EVERY_EVENT,
  tables: ['merkle_leaves', 'merkle_nodes', 'merkle_frontier'],
  prepare(events) {
    const leaves = leavesOf(events);
    return (trx) => appendLeaves(trx, leaves);
  },
  apply: (trx, events) => appendLeaves(trx, leavesOf(events)),
};
