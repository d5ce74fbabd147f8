/**
 * What a signed tree head signs: the canonical JSON (RFC 8785) of
 *
 *   { "lastPosition", "rootHash", "timestamp", "treeSize", "version": "sluice-tree-head/1" }
 *
 * encoded as UTF-8, `rootHash` in lower-case hex. The version names this layout (and the leaf
 * encoding of src/domain/merkle/event-leaf.ts), so a signature over it cannot pass for anything
 * else the key might sign.
 */
import { canonicalJson } from './canonical-json.js';

export const TREE_HEAD_VERSION = 'sluice-tree-head/1';

export interface TreeHead {
  readonly treeSize: number;
  readonly lastPosition: number;
  readonly rootHash: string;
  readonly timestamp: string;
}

export function treeHeadMessage(head: TreeHead): Buffer {
  return Buffer.from(
    canonicalJson({
      lastPosition: head.lastPosition,
      rootHash: head.rootHash,
      timestamp: head.timestamp,
      treeSize: head.treeSize,
      version: TREE_HEAD_VERSION,
    }),
    'utf8',
  );
}
