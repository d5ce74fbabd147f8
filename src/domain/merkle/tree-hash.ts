/**
 * The hashes of a Merkle tree as RFC 6962 §2.1 (and RFC 9162 §2.1.1) define them, with SHA-256:
 * a leaf is SHA-256(0x00 ‖ bytes), an interior node SHA-256(0x01 ‖ left ‖ right), and the
 * empty tree SHA-256 of nothing. The distinct prefixes keep a leaf from passing for a node.
 */
import { createHash } from 'node:crypto';

export const HASH_BYTES = 32;

const LEAF_PREFIX = Buffer.from([0]);
const NODE_PREFIX = Buffer.from([1]);

export function leafHash(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(LEAF_PREFIX).update(bytes).digest();
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

/** MTH of the empty tree. */
export const EMPTY_TREE_HASH: Buffer = createHash('sha256').digest();
