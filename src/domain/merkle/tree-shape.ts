/**
 * The shape of an RFC 6962 Merkle tree over leaves 0…n−1, and what its proofs are made of, as
 * leaf ranges; the hashes come from whoever stores them (src/projections/merkle-tree.ts).
 *
 * A tree that only grows is kept as its complete subtrees: node (level, index) covers leaves
 * [index·2^level, (index+1)·2^level), and its hash never changes once its last leaf is in.
 * The frontier is the list of complete subtrees along the right edge, largest first (one per
 * set bit of n): appending a leaf merges it with the frontier's smaller subtrees, O(log n), and
 * the root folds the frontier from the right. Every range an RFC 6962 proof asks for starts at
 * a multiple of a power of two at least its length, so its hash is a right fold of at most
 * log₂ n stored subtrees (`subtreesOf`).
 *
 * Arithmetic is on JS numbers, never 32-bit bitwise operators: trees may outgrow 2^31 leaves.
 */
import { EMPTY_TREE_HASH, nodeHash } from './tree-hash.js';

/** A complete subtree: leaves [index·2^level, (index+1)·2^level). Level 0 is a leaf. */
export interface Subtree {
  readonly level: number;
  readonly index: number;
}

/** Leaves [start, end). */
export interface LeafRange {
  readonly start: number;
  readonly end: number;
}

/** The largest power of two strictly below `n` (n ≥ 2): RFC 6962's k. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The complete subtrees that make up [start, end), left to right and largest first. Throws
 * for a range that does not start at a multiple of a power of two at least its length (no
 * proof asks for one).
 */
export function subtreesOf({ start, end }: LeafRange): Subtree[] {
  const subtrees: Subtree[] = [];
  let at = start;
  for (let size = 2 ** 52, level = 52; size >= 1; size /= 2, level -= 1) {
    if (end - at < size) continue;
    if (at % size !== 0) throw new RangeError(`leaves [${start}, ${end}) are not one RFC 6962 subtree`);
    subtrees.push({ level, index: at / size });
    at += size;
  }
  return subtrees;
}

/** MTH of a range from the hashes of its `subtreesOf`, in that order (the empty range: the empty tree). */
export function foldSubtrees(hashes: readonly Buffer[]): Buffer {
  let hash = hashes.at(-1);
  if (hash === undefined) return EMPTY_TREE_HASH;
  for (let i = hashes.length - 2; i >= 0; i -= 1) hash = nodeHash(hashes[i]!, hash);
  return hash;
}

/**
 * RFC 9162 §2.1.3.1 PATH(m, D[n]) as ranges: the siblings of leaf `index` in the tree of `size`
 * leaves, from the leaf up.
 */
export function inclusionRanges(index: number, size: number): LeafRange[] {
  if (!(index >= 0 && index < size)) throw new RangeError(`leaf ${index} is not in a tree of ${size}`);
  const path: LeafRange[] = [];
  let start = 0;
  let end = size;
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (index < start + k) {
      path.push({ start: start + k, end });
      end = start + k;
    } else {
      path.push({ start, end: start + k });
      start += k;
    }
  }
  return path.reverse();
}

/**
 * RFC 9162 §2.1.4.1 PROOF(m, D[n]) as ranges: what shows that the tree of `first` leaves is a
 * prefix of the tree of `second` leaves (1 ≤ first ≤ second; empty when they are equal).
 */
export function consistencyRanges(first: number, second: number): LeafRange[] {
  if (!(first >= 1 && first <= second))
    throw new RangeError(`no consistency proof from ${first} to ${second}`);
  const proof: LeafRange[] = [];
  let start = 0;
  let end = second;
  let whole = true;
  while (first !== end) {
    const k = splitPoint(end - start);
    if (first - start <= k) {
      proof.push({ start: start + k, end });
      end = start + k;
    } else {
      proof.push({ start, end: start + k });
      start += k;
      whole = false;
    }
  }
  if (!whole) proof.push({ start, end });
  return proof.reverse();
}

/** A complete subtree made by an append, with its hash. */
export interface NewNode extends Subtree {
  readonly hash: Buffer;
}

/**
 * The right edge of a growing tree. `append` adds one leaf and reports the leaf and every
 * subtree it completes (what a store of subtrees must keep); `root` is the MTH of the leaves
 * so far.
 */
export class Frontier {
  private constructor(
    private readonly hashes: Buffer[],
    private count: number,
  ) {}

  static empty(): Frontier {
    return new Frontier([], 0);
  }

  /** A frontier as `hashes()` gave it, for a tree of `size` leaves. */
  static of(size: number, hashes: readonly Buffer[]): Frontier {
    let ones = 0;
    for (let n = size; n > 0; n = Math.floor(n / 2)) ones += n % 2;
    if (ones !== hashes.length) throw new RangeError(`a tree of ${size} leaves has ${ones} frontier hashes`);
    return new Frontier([...hashes], size);
  }

  get size(): number {
    return this.count;
  }

  /** The complete subtrees along the right edge, largest first. */
  edge(): readonly Buffer[] {
    return this.hashes;
  }

  append(leaf: Buffer, made?: (node: NewNode) => void): void {
    let hash = leaf;
    let index = this.count;
    let level = 0;
    made?.({ level, index, hash });
    // Each trailing 1 bit of the old size is a complete subtree to the left of the same size.
    while (index % 2 === 1) {
      hash = nodeHash(this.hashes.pop()!, hash);
      level += 1;
      index = (index - 1) / 2;
      made?.({ level, index, hash });
    }
    this.hashes.push(hash);
    this.count += 1;
  }

  root(): Buffer {
    return foldSubtrees(this.hashes);
  }
}
