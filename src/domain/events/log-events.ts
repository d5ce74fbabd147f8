/**
 * The log's own tamper evidence (docs/tamper-evidence.md): a signed tree head states that the
 * first `treeSize` events of the log, the last of them at `lastPosition`, have the Merkle root
 * `rootHash`, signed with the log key (Ed25519) named by `keyId`. Heads are events themselves,
 * all in one stream, so every later head covers the earlier ones too.
 */
import { Type } from '@sinclair/typebox';
import { eventSchema, Timestamp } from './schema-helpers.js';

/** A SHA-256 value in lower-case hex. */
export const Sha256Hex = Type.String({ pattern: '^[0-9a-f]{64}$' });
/** An Ed25519 signature (64 bytes) in base64. */
export const Ed25519Signature = Type.String({ pattern: '^[A-Za-z0-9+/]{86}==$' });

export const TreeHeadSigned = eventSchema('TreeHeadSigned', {
  treeSize: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
  lastPosition: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
  rootHash: Sha256Hex,
  timestamp: Timestamp,
  /** SHA-256 of the public key's DER SubjectPublicKeyInfo. */
  keyId: Sha256Hex,
  /** Ed25519 over the head's signed bytes (src/domain/merkle/tree-head.ts). */
  signature: Ed25519Signature,
});

/** Every signed tree head, in the order they were recorded. */
export const treeHeadsStream = 'log-tree-heads';
