/**
 * Queries of the `merkle` view (src/projections/merkle-tree.ts): the tree as it stands, roots
 * of earlier sizes, inclusion and consistency proofs (RFC 9162 §2.1.3 and §2.1.4), and the
 * stored leaves in order. A proof costs two or three indexed reads: every range it needs is
 * folded from stored complete subtrees (src/domain/merkle/tree-shape.ts), fetched in one query.
 */
import { type Kysely, sql } from 'kysely';
import type { ReadModel } from '../adapters/readmodel/schema.js';
import {
  consistencyRanges,
  foldSubtrees,
  inclusionRanges,
  type LeafRange,
  type Subtree,
  subtreesOf,
} from '../domain/merkle/tree-shape.js';
import { readFrontier } from './merkle-tree.js';

export interface TreeState {
  /** Leaves (events) in the tree. */
  readonly size: number;
  /** Global position of the last leaf (0 for the empty tree). */
  readonly lastPosition: number;
  readonly rootHash: Buffer;
}

export interface InclusionProof {
  readonly position: number;
  readonly leafIndex: number;
  readonly treeSize: number;
  readonly leafHash: Buffer;
  readonly rootHash: Buffer;
  /** Sibling hashes from the leaf up (RFC 9162's inclusion path). */
  readonly auditPath: Buffer[];
}

export interface ConsistencyProof {
  readonly first: number;
  readonly second: number;
  readonly firstRootHash: Buffer;
  readonly secondRootHash: Buffer;
  readonly proof: Buffer[];
}

export type TreeLookupFailure = 'position-not-found' | 'tree-size-too-large' | 'position-outside-tree';

/** A proof asked of the tree that it cannot give; `code` names why. */
export class TreeLookupError extends Error {
  override readonly name = 'TreeLookupError';
  constructor(
    readonly code: TreeLookupFailure,
    message: string,
  ) {
    super(message);
  }
}

export async function currentTree(db: Kysely<ReadModel>): Promise<TreeState> {
  const { frontier, lastPosition } = await readFrontier(db);
  return { size: frontier.size, lastPosition, rootHash: frontier.root() };
}

const key = (s: Subtree) => `${s.level}:${s.index}`;

/** The hashes of `ranges`, each folded from stored subtrees read in one query. */
async function rangeHashes(db: Kysely<ReadModel>, ranges: readonly LeafRange[]): Promise<Buffer[]> {
  const pieces = ranges.map(subtreesOf);
  const wanted = pieces.flat();
  const leaves = wanted.filter((s) => s.level === 0).map((s) => s.index);
  const nodes = wanted.filter((s) => s.level > 0);
  const { rows } = await sql<{ level: number; node_index: string; hash: Buffer }>`
    SELECT 0 AS level, leaf_index AS node_index, hash FROM merkle_leaves
    WHERE leaf_index = ANY(${leaves}::bigint[])
    UNION ALL
    SELECT n.level, n.node_index, n.hash FROM merkle_nodes n
    JOIN unnest(${nodes.map((s) => s.level)}::smallint[], ${nodes.map((s) => s.index)}::bigint[])
      AS w(level, node_index) ON n.level = w.level AND n.node_index = w.node_index`.execute(db);
  const found = new Map(rows.map((r) => [`${r.level}:${r.node_index}`, r.hash]));
  return pieces.map((subtrees) =>
    foldSubtrees(
      subtrees.map((s) => {
        const hash = found.get(key(s));
        if (!hash)
          throw new Error(`the merkle view lacks subtree ${key(s)}: rebuild it (npm run rebuild -- merkle)`);
        return hash;
      }),
    ),
  );
}

function checkSize(treeSize: number, tree: TreeState): void {
  if (treeSize > tree.size) {
    throw new TreeLookupError(
      'tree-size-too-large',
      `the tree holds ${tree.size} events (up to position ${tree.lastPosition}), not ${treeSize}`,
    );
  }
}

/** The proof that the event at `position` is leaf `leafIndex` of the tree of `treeSize` (default: the whole tree). */
export async function inclusionProof(
  db: Kysely<ReadModel>,
  position: number,
  treeSize?: number,
): Promise<InclusionProof> {
  const tree = await currentTree(db);
  const size = treeSize ?? tree.size;
  checkSize(size, tree);
  const { rows } = await sql<{ leaf_index: string; hash: Buffer }>`
    SELECT leaf_index, hash FROM merkle_leaves WHERE global_position = ${position}`.execute(db);
  const leaf = rows[0];
  if (!leaf) throw new TreeLookupError('position-not-found', `the tree has no event at position ${position}`);
  const leafIndex = Number(leaf.leaf_index);
  if (leafIndex >= size) {
    throw new TreeLookupError(
      'position-outside-tree',
      `the event at position ${position} is leaf ${leafIndex}, outside the tree of ${size} events`,
    );
  }
  const [rootHash, ...auditPath] = await rangeHashes(db, [
    { start: 0, end: size },
    ...inclusionRanges(leafIndex, size),
  ]);
  return { position, leafIndex, treeSize: size, leafHash: leaf.hash, rootHash: rootHash!, auditPath };
}

/** The proof that the tree of `first` events is a prefix of the tree of `second` (1 ≤ first ≤ second). */
export async function consistencyProof(
  db: Kysely<ReadModel>,
  first: number,
  second: number,
): Promise<ConsistencyProof> {
  checkSize(second, await currentTree(db));
  const [firstRootHash, secondRootHash, ...proof] = await rangeHashes(db, [
    { start: 0, end: first },
    { start: 0, end: second },
    ...consistencyRanges(first, second),
  ]);
  return { first, second, firstRootHash: firstRootHash!, secondRootHash: secondRootHash!, proof };
}

export interface StoredLeaf {
  readonly index: number;
  readonly position: number;
  readonly hash: Buffer;
}

/** Stored leaves from index `from` on, in order, at most `limit`. */
export async function storedLeaves(
  db: Kysely<ReadModel>,
  from: number,
  limit: number,
): Promise<StoredLeaf[]> {
  const { rows } = await sql<{ leaf_index: string; global_position: string; hash: Buffer }>`
    SELECT leaf_index, global_position, hash FROM merkle_leaves
    WHERE leaf_index >= ${from} ORDER BY leaf_index LIMIT ${limit}`.execute(db);
  return rows.map((r) => ({
    index: Number(r.leaf_index),
    position: Number(r.global_position),
    hash: r.hash,
  }));
}
