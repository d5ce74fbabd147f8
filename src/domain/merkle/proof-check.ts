/**
 * Checking proofs as a client does (RFC 9162 §2.1.3.2 and §2.1.4.2): from a leaf hash and its
 * inclusion path to the root, and from two roots and a consistency proof to "the smaller tree
 * is a prefix of the larger". Sluice's own tests and `npm run verify` use these; an auditor
 * needs none of Sluice's code (docs/tamper-evidence.md has a Python equivalent).
 *
 * The RFC's bit operations on fn and sn are written with division, so sizes past 2^31 work.
 */
import { nodeHash } from './tree-hash.js';

const odd = (n: number) => n % 2 === 1;
const half = (n: number) => Math.floor(n / 2);

function isPowerOfTwo(n: number): boolean {
  let m = n;
  while (m > 1 && !odd(m)) m = half(m);
  return m === 1;
}

/** The RFC's walk up the tree: `fn` the node's index at its level, `sn` the last index there. */
class Walk {
  constructor(
    public fn: number,
    public sn: number,
  ) {}

  /** The next proof hash is the node's left sibling (or, on the right edge, its only one). */
  leftSibling(): boolean {
    return odd(this.fn) || this.fn === this.sn;
  }

  /** After a left sibling: up past the levels where the node has no sibling at all. */
  climbEdge(): void {
    while (!odd(this.fn) && this.fn !== 0) this.up();
  }

  up(): void {
    this.fn = half(this.fn);
    this.sn = half(this.sn);
  }
}

/** The root that `path` leads to from leaf `index` of a tree of `size`, or undefined when the path cannot fit. */
export function rootFromInclusion(
  index: number,
  size: number,
  leaf: Buffer,
  path: readonly Buffer[],
): Buffer | undefined {
  if (!(index >= 0 && index < size)) return undefined;
  const walk = new Walk(index, size - 1);
  let hash = leaf;
  for (const sibling of path) {
    if (walk.sn === 0) return undefined;
    if (walk.leftSibling()) {
      hash = nodeHash(sibling, hash);
      walk.climbEdge();
    } else {
      hash = nodeHash(hash, sibling);
    }
    walk.up();
  }
  return walk.sn === 0 ? hash : undefined;
}

export function verifyInclusion(
  index: number,
  size: number,
  leaf: Buffer,
  path: readonly Buffer[],
  root: Buffer,
): boolean {
  return rootFromInclusion(index, size, leaf, path)?.equals(root) ?? false;
}

/** True when `proof` shows the tree of `first` leaves (root `firstRoot`) is a prefix of the tree of `second`. */
export function verifyConsistency(
  first: number,
  second: number,
  firstRoot: Buffer,
  secondRoot: Buffer,
  proof: readonly Buffer[],
): boolean {
  if (!(first >= 1 && first <= second)) return false;
  if (first === second) return proof.length === 0 && firstRoot.equals(secondRoot);
  // A first tree that is a complete subtree is its own first node.
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : [...proof];
  const [head, ...rest] = path;
  if (head === undefined) return false;
  const walk = new Walk(first - 1, second - 1);
  while (odd(walk.fn)) walk.up();
  let fr = head;
  let sr = head;
  for (const c of rest) {
    if (walk.sn === 0) return false;
    if (walk.leftSibling()) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      walk.climbEdge();
    } else {
      sr = nodeHash(sr, c);
    }
    walk.up();
  }
  return walk.sn === 0 && fr.equals(firstRoot) && sr.equals(secondRoot);
}
