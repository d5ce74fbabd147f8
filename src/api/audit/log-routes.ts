/**
 * Tamper evidence (docs/tamper-evidence.md), for admins and auditors: the log key's public half,
 * signing a tree head now, inclusion and consistency proofs from the Merkle view, and a full
 * verification of the log against the view and every signed head. A proof carries hashes only,
 * never an event's content, so proofs are not recorded as audit reads; a head is recorded, as
 * the TreeHeadSigned event it is, with its caller as actor.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { VerificationReport } from '../../application/log-verification.js';
import type { LogSigner } from '../../application/ports.js';
import { TreeBehind, type TreeHeads } from '../../application/tree-heads.js';
import {
  type ConsistencyProof,
  type InclusionProof,
  TreeLookupError,
  type TreeLookupFailure,
} from '../../projections/merkle-proofs.js';
import { contextOf, requireRight } from '../auth.js';
import { awaitView } from '../paging.js';
import { Problem, problemResponses } from '../problems.js';
import {
  ConsistencyProofSchema,
  ConsistencyQuery,
  InclusionProofSchema,
  InclusionQuery,
  LogKeySchema,
  TreeHeadSchema,
  VerificationSchema,
} from './log-schemas.js';

export interface LogRoutesOptions {
  readonly treeHeads: TreeHeads;
  readonly logKey: Pick<LogSigner, 'keyId' | 'publicKeyPem'>;
  readonly inclusionProof: (position: number, treeSize?: number) => Promise<InclusionProof>;
  readonly consistencyProof: (first: number, second: number) => Promise<ConsistencyProof>;
  readonly verify: () => Promise<VerificationReport>;
  /** Resolves true once the Merkle view includes `position`, false after `timeoutMs`. */
  readonly waitForTree: (position: number, timeoutMs: number) => Promise<boolean>;
}

const lookupProblems: Record<TreeLookupFailure, [number, string]> = {
  'position-not-found': [404, 'No event at this position in the tree'],
  'tree-size-too-large': [400, 'The tree is not that large'],
  'position-outside-tree': [400, 'The event is not in a tree of that size'],
};

async function translated<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof TreeLookupError) {
      const [status, title] = lookupProblems[error.code];
      throw new Problem(status, error.code, title, error.message);
    }
    if (error instanceof TreeBehind)
      throw new Problem(503, 'view-behind', 'Try again shortly', error.message);
    throw error;
  }
}

const hex = (hashes: readonly Buffer[]) => hashes.map((h) => h.toString('hex'));

export const logRoutes: FastifyPluginAsyncTypebox<LogRoutesOptions> = async (app, options) => {
  app.addHook('preHandler', requireRight('admin', 'auditor'));
  const tags = ['tamper evidence'];
  /** One verification at a time per process; callers meanwhile share its report. */
  let verifying: Promise<VerificationReport> | undefined;

  app.get(
    '/log-key',
    {
      schema: {
        tags,
        summary: 'The public key that signs tree heads',
        response: { 200: LogKeySchema, ...problemResponses(401, 403) },
      },
    },
    async () => ({
      keyId: options.logKey.keyId,
      algorithm: 'Ed25519' as const,
      publicKey: options.logKey.publicKeyPem,
    }),
  );

  app.post(
    '/tree-heads',
    {
      schema: {
        tags,
        summary: 'Sign a tree head now',
        description:
          'Waits (up to 5 s, else 503) until the Merkle view includes every event recorded before the call, signs ' +
          'its size, last position and root, and records the head as a TreeHeadSigned event. Keep the answer: a ' +
          'head held outside Sluice lets `npm run verify -- --heads` find events removed later.',
        response: { 201: TreeHeadSchema, ...problemResponses(401, 403, 503) },
      },
    },
    async (request, reply) => {
      const head = await translated(() => options.treeHeads.sign(contextOf(request)));
      return reply.code(201).send(head);
    },
  );

  app.get(
    '/proof/inclusion',
    {
      schema: {
        tags,
        summary: 'Proof that an event is in the tree of a given size (RFC 9162 §2.1.3)',
        querystring: InclusionQuery,
        response: { 200: InclusionProofSchema, ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => {
      const { position, treeSize, minPosition } = request.query;
      await awaitView(options.waitForTree, minPosition);
      const proof = await translated(() => options.inclusionProof(position, treeSize));
      return {
        ...proof,
        leafHash: proof.leafHash.toString('hex'),
        rootHash: proof.rootHash.toString('hex'),
        auditPath: hex(proof.auditPath),
      };
    },
  );

  app.get(
    '/proof/consistency',
    {
      schema: {
        tags,
        summary:
          'Proof that the tree of `first` events is a prefix of the tree of `second` (RFC 9162 §2.1.4)',
        querystring: ConsistencyQuery,
        response: { 200: ConsistencyProofSchema, ...problemResponses(400, 401, 403, 503) },
      },
    },
    async (request) => {
      const { first, second, minPosition } = request.query;
      if (first > second) {
        throw new Problem(
          400,
          'invalid-range',
          'first must not exceed second',
          `first ${first} > second ${second}`,
        );
      }
      await awaitView(options.waitForTree, minPosition);
      const proof = await translated(() => options.consistencyProof(first, second));
      return {
        ...proof,
        firstRootHash: proof.firstRootHash.toString('hex'),
        secondRootHash: proof.secondRootHash.toString('hex'),
        proof: hex(proof.proof),
      };
    },
  );

  app.get(
    '/verify',
    {
      schema: {
        tags,
        summary:
          'Recompute the Merkle tree from the event log and check it against the view and every signed head',
        description:
          'Reads the whole log: it takes as long as `npm run verify`. Concurrent calls share one run. `ok` false ' +
          'names the problems; `firstBadPosition` the first event that is not what was recorded and signed.',
        response: { 200: VerificationSchema, ...problemResponses(401, 403) },
      },
    },
    async () => {
      verifying ??= options.verify().finally(() => {
        verifying = undefined;
      });
      return verifying;
    },
  );
};
