/** Query and answer schemas of the tamper-evidence calls (log-routes.ts). */
import { type Static, Type } from '@sinclair/typebox';
import { Ed25519Signature, Sha256Hex } from '../../domain/events/log-events.js';
import { PageQuery } from '../paging.js';

const Count = (description: string) =>
  Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description });
const Hash = (description: string) => ({ ...Sha256Hex, description });
const Hashes = (description: string) => Type.Array(Sha256Hex, { description });

export const LogKeySchema = Type.Object({
  keyId: Hash('SHA-256 of the public key’s DER SubjectPublicKeyInfo; heads name their key by it'),
  algorithm: Type.Literal('Ed25519'),
  publicKey: Type.String({ description: 'The public key, PEM (SubjectPublicKeyInfo)' }),
});

export const TreeHeadSchema = Type.Object({
  treeSize: Count('Events covered: the first treeSize events of the log in position order'),
  lastPosition: Count('Global position of the last event covered'),
  rootHash: Hash('RFC 6962 Merkle tree hash of those events'),
  timestamp: Type.String({ format: 'date-time', description: 'When it was signed' }),
  keyId: Hash('The signing key (see /audit/log-key)'),
  signature: { ...Ed25519Signature, description: 'Ed25519 over the head’s signed bytes, base64' },
  position: Count('Where this head was itself recorded (a TreeHeadSigned event)'),
});

const MinPosition = PageQuery.minPosition;

export const InclusionQuery = Type.Object(
  {
    position: Count('Global position of the event'),
    treeSize: Type.Optional(
      Count('Size of the tree to prove inclusion in (a signed head’s); default the whole tree'),
    ),
    minPosition: MinPosition,
  },
  { additionalProperties: false },
);
export type InclusionQueryType = Static<typeof InclusionQuery>;

export const InclusionProofSchema = Type.Object({
  position: Type.Integer(),
  leafIndex: Type.Integer({ description: 'The event’s place among the events in position order, from 0' }),
  treeSize: Type.Integer(),
  leafHash: Hash('SHA-256(0x00 ‖ the event’s canonical bytes)'),
  rootHash: Hash('Root of the tree of treeSize events'),
  auditPath: Hashes('RFC 9162 inclusion path: sibling hashes from the leaf up'),
});

export const ConsistencyQuery = Type.Object(
  {
    first: Count('Size of the earlier tree'),
    second: Count('Size of the later tree (at least first)'),
    minPosition: MinPosition,
  },
  { additionalProperties: false },
);
export type ConsistencyQueryType = Static<typeof ConsistencyQuery>;

export const ConsistencyProofSchema = Type.Object({
  first: Type.Integer(),
  second: Type.Integer(),
  firstRootHash: Hash('Root of the tree of the first `first` events'),
  secondRootHash: Hash('Root of the tree of the first `second` events'),
  proof: Hashes('RFC 9162 consistency proof'),
});

export const VerificationSchema = Type.Object({
  ok: Type.Boolean({ description: 'The log, the Merkle view and every signed head agree' }),
  checkedUpTo: Type.Integer({ description: 'The log’s head when verification began' }),
  treeSize: Type.Integer(),
  rootHash: Sha256Hex,
  comparedUpTo: Type.Integer({ description: 'Events up to here were compared with the Merkle view' }),
  heads: Type.Object({ checked: Type.Integer(), agreeing: Type.Integer() }),
  firstBadPosition: Type.Union([Type.Integer(), Type.Null()], {
    description: 'The first position whose event is not what was recorded and signed',
  }),
  problems: Type.Array(
    Type.Object({
      kind: Type.String({ examples: ['event-changed'] }),
      position: Type.Union([Type.Integer(), Type.Null()]),
      range: Type.Optional(Type.Object({ after: Type.Integer(), upTo: Type.Integer() })),
      message: Type.String(),
    }),
  ),
  moreProblems: Type.Integer(),
});
