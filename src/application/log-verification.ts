/**
 * Verifying the log (`npm run verify`, `GET /api/v1/audit/verify`): recompute the Merkle tree
 * from the events as the event store returns them now, and hold it against
 *
 * - the Merkle view's leaves, position by position: it recorded each event's hash when the
 *   event was new, so an event changed, removed or added since is named by its position;
 * - every signed tree head (the stream `log-tree-heads`, and any saved elsewhere): each must
 *   carry a valid signature of a trusted key, and the log's first `treeSize` events must have
 *   its root, the last of them at its `lastPosition`.
 *
 * The heads are what make the answer trustworthy: whoever edits the events table can also
 * edit the view, but cannot sign. When a head disagrees with the log and the view's leaves
 * agree with that head, the view is as the head signed it, and the positions where it differs
 * from the log are the changed events. When the view differs from the head too, only a range
 * can be named: after the last head that agrees, up to the one that does not.
 *
 * One pass over the log and the view, in position order, with O(log n) memory besides the
 * heads.
 */
import type { EventStore, RecordedEvent } from '../domain/event-store.js';
import { validateEvent } from '../domain/events/catalogue.js';
import { treeHeadsStream } from '../domain/events/log-events.js';
import { eventLeafHash } from '../domain/merkle/event-leaf.js';
import { treeHeadMessage } from '../domain/merkle/tree-head.js';
import { Frontier } from '../domain/merkle/tree-shape.js';
import type { HeadSignatureCheck } from './ports.js';
import type { TreeHeadData } from './tree-heads.js';

/** A leaf of the Merkle view. */
export interface ViewLeaf {
  readonly index: number;
  readonly position: number;
  readonly hash: Buffer;
}

export interface VerificationDependencies {
  readonly store: EventStore;
  /** The Merkle view's leaves from index `from` on, in order, at most `limit`. */
  readonly viewLeaves: (from: number, limit: number) => Promise<ViewLeaf[]>;
  /** The last position the Merkle view includes (its checkpoint). */
  readonly viewPosition: () => Promise<number>;
  readonly checkSignature: HeadSignatureCheck;
}

export interface VerificationOptions {
  /** Events (and leaves) read at once; default 5,000. */
  readonly batchSize?: number;
  /** Heads kept outside the log (an auditor's copies), checked like the recorded ones. */
  readonly savedHeads?: readonly unknown[];
  /** Called after each batch of events with the last position read. */
  readonly onProgress?: (position: number, events: number) => void;
}

export type VerificationProblemKind =
  /** The event at this position differs from the leaf the Merkle view recorded for it. */
  | 'event-changed'
  /** The Merkle view recorded an event at this position; the log has none now. */
  | 'event-missing'
  /** The log holds an event at this position that the Merkle view never recorded. */
  | 'event-added'
  /** A signed head's root (or last position) differs from the log's tree of its size. */
  | 'head-mismatch'
  /** A head covers more events than the log holds. */
  | 'head-beyond-log'
  /** A head's signature does not verify with the key it names. */
  | 'head-signature'
  /** A head is signed by a key that is not trusted (pass its public key). */
  | 'head-unknown-key'
  /** A head event that is not a well-formed TreeHeadSigned. */
  | 'head-malformed'
  /**
   * The Merkle view's leaf at this position differs from the log, and a signed head that
   * agrees with the log covers it: the view was altered, not the log (rebuild the view).
   */
  | 'view-altered';

export interface VerificationProblem {
  readonly kind: VerificationProblemKind;
  /** The position it is about, when one can be named. */
  readonly position: number | null;
  /** For a head disagreement that no position can be named for: the positions it lies between. */
  readonly range?: { readonly after: number; readonly upTo: number };
  readonly message: string;
}

export interface VerificationReport {
  /** True when the log, the Merkle view and every head agree. */
  readonly ok: boolean;
  /** The log's head when verification began: events up to here were checked. */
  readonly checkedUpTo: number;
  readonly treeSize: number;
  readonly rootHash: string;
  /** Events up to here were compared with the Merkle view's leaves (its checkpoint). */
  readonly comparedUpTo: number;
  readonly heads: { readonly checked: number; readonly agreeing: number };
  /** The first position whose event differs from what the view and the heads recorded, if any. */
  readonly firstBadPosition: number | null;
  /** The problems in position order (at most MAX_PROBLEMS). */
  readonly problems: VerificationProblem[];
  /** Problems found beyond those listed. */
  readonly moreProblems: number;
}

export const MAX_PROBLEMS = 100;

/** Problems that name an event as bad (the others are about heads or keys). */
const EVENT_LEVEL: ReadonlySet<VerificationProblemKind> = new Set([
  'event-changed',
  'event-missing',
  'event-added',
  'head-signature',
  'head-malformed',
]);

interface Head {
  /** Where it was recorded; null for a saved head. */
  readonly position: number | null;
  readonly label: string;
  readonly data: TreeHeadData;
}

/** Pages of an ordered source, one item at a time. */
class Cursor<T> {
  private page: T[] = [];
  private at = 0;
  private done = false;
  constructor(private readonly nextPage: () => Promise<T[]>) {}

  async peek(): Promise<T | undefined> {
    if (this.at < this.page.length) return this.page[this.at];
    if (this.done) return undefined;
    this.page = await this.nextPage();
    this.at = 0;
    if (this.page.length === 0) this.done = true;
    return this.page[0];
  }

  take(): void {
    this.at += 1;
  }
}

const HEAD_FIELDS = ['treeSize', 'lastPosition', 'rootHash', 'timestamp', 'keyId', 'signature'];

/** A saved head's signed fields (an answer of POST /audit/tree-heads also says where it was recorded). */
function headFields(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => HEAD_FIELDS.includes(key)));
}

function readHeads(recorded: readonly RecordedEvent[], saved: readonly unknown[]) {
  const heads: Head[] = [];
  const problems: VerificationProblem[] = [];
  const add = (position: number | null, label: string, data: unknown) => {
    try {
      const event = validateEvent({ type: 'TreeHeadSigned', data });
      if (event.type === 'TreeHeadSigned') heads.push({ position, label, data: event.data });
    } catch (error) {
      problems.push({
        kind: 'head-malformed',
        position,
        message: `${label} is not a well-formed tree head: ${error instanceof Error ? error.message : String(error)}`,
      });
    }
  };
  for (const event of recorded) {
    const label = `the head recorded at position ${event.globalPosition}`;
    if (event.type === 'TreeHeadSigned') add(event.globalPosition, label, event.data);
    else
      problems.push({
        kind: 'head-malformed',
        position: event.globalPosition,
        message: `${label} is a ${event.type} event`,
      });
  }
  for (const [i, data] of saved.entries()) add(null, `saved head ${i + 1}`, headFields(data));
  return { heads, problems };
}

/** The log's tree (roots and last positions) and the view's tree (roots) at each size asked for. */
interface Trees {
  readonly log: Frontier;
  readonly logAt: Map<number, { root: Buffer; lastPosition: number }>;
  readonly viewAt: Map<number, Buffer>;
  /** Positions where the log and the view differ. */
  readonly differences: VerificationProblem[];
}

/**
 * One pass over the log (up to `checkedUpTo`) and the view's leaves (up to `comparedUpTo`), both
 * in position order: a position on one side only is an event added or removed; on both, the
 * leaf hashes must be equal. Both trees are grown on the way, their roots kept at `sizes`.
 */
async function compareLogWithView(
  deps: VerificationDependencies,
  bounds: { readonly checkedUpTo: number; readonly comparedUpTo: number; readonly batchSize: number },
  sizes: ReadonlySet<number>,
  onProgress?: (position: number, events: number) => void,
): Promise<Trees> {
  const { checkedUpTo, comparedUpTo, batchSize } = bounds;
  const log = Frontier.empty();
  const view = Frontier.empty();
  const logAt = new Map<number, { root: Buffer; lastPosition: number }>();
  const viewAt = new Map<number, Buffer>();
  const differences: VerificationProblem[] = [];
  const appendLog = (position: number, hash: Buffer) => {
    log.append(hash);
    if (sizes.has(log.size)) logAt.set(log.size, { root: log.root(), lastPosition: position });
  };
  const appendView = (hash: Buffer) => {
    view.append(hash);
    if (sizes.has(view.size)) viewAt.set(view.size, view.root());
  };

  let after = 0;
  const events = new Cursor(async () => {
    if (after >= checkedUpTo) return [];
    const page = (await deps.store.readAll({ after, limit: batchSize })).filter(
      (e) => e.globalPosition <= checkedUpTo,
    );
    after = page.at(-1)?.globalPosition ?? checkedUpTo;
    onProgress?.(after, log.size + page.length);
    return page;
  });
  let nextLeaf = 0;
  const leaves = new Cursor(async () => {
    const page = (await deps.viewLeaves(nextLeaf, batchSize)).filter((l) => l.position <= comparedUpTo);
    nextLeaf = (page.at(-1)?.index ?? nextLeaf - 1) + 1;
    return page;
  });

  for (;;) {
    const event = await events.peek();
    const leaf = await leaves.peek();
    if (event && (!leaf || event.globalPosition < leaf.position)) {
      events.take();
      appendLog(event.globalPosition, eventLeafHash(event));
      if (event.globalPosition <= comparedUpTo) {
        differences.push({
          kind: 'event-added',
          position: event.globalPosition,
          message: `the log holds an event at position ${event.globalPosition} (${event.type} on ${event.streamId}) that the Merkle view never recorded`,
        });
      }
    } else if (leaf && (!event || leaf.position < event.globalPosition)) {
      leaves.take();
      appendView(leaf.hash);
      differences.push({
        kind: 'event-missing',
        position: leaf.position,
        message: `the Merkle view recorded an event at position ${leaf.position} (leaf ${leaf.index}); the log has none there now`,
      });
    } else if (event && leaf) {
      events.take();
      leaves.take();
      const hash = eventLeafHash(event);
      appendLog(event.globalPosition, hash);
      appendView(leaf.hash);
      if (!hash.equals(leaf.hash)) {
        differences.push({
          kind: 'event-changed',
          position: leaf.position,
          message: `the event at position ${leaf.position} (${event.type} on ${event.streamId}) is not the one the Merkle view recorded as leaf ${leaf.index}`,
        });
      }
    } else {
      return { log, logAt, viewAt, differences };
    }
  }
}

interface HeadFindings {
  readonly agreeing: number;
  /** The last position of the largest head that agrees with the log: the log is authentic up to here. */
  readonly vouchedUpTo: number;
  /** The last position of the largest head with a valid signature, agreeing or not. */
  readonly coveredUpTo: number;
  readonly problems: VerificationProblem[];
}

/** Each head's signature, then its root and last position against the log's tree of its size. */
function checkHeads(heads: readonly Head[], trees: Trees, checkSignature: HeadSignatureCheck): HeadFindings {
  const problems: VerificationProblem[] = [];
  let agreeing = 0;
  let vouchedUpTo = 0;
  let coveredUpTo = 0;
  for (const head of [...heads].sort((a, b) => a.data.treeSize - b.data.treeSize)) {
    const { data, label } = head;
    const signature = checkSignature(data.keyId, treeHeadMessage(data), data.signature);
    if (signature !== 'valid') {
      const unknown = signature === 'unknown-key';
      problems.push({
        kind: unknown ? 'head-unknown-key' : 'head-signature',
        position: head.position,
        message: unknown
          ? `${label} is signed by key ${data.keyId}, which is not a trusted key`
          : `${label} carries a signature that does not verify with key ${data.keyId}`,
      });
      continue;
    }
    coveredUpTo = Math.max(coveredUpTo, data.lastPosition);
    const log = trees.logAt.get(data.treeSize);
    if (!log) {
      problems.push({
        kind: 'head-beyond-log',
        position: null,
        message: `${label} signs ${data.treeSize} events up to position ${data.lastPosition}; the log holds ${trees.log.size}`,
      });
      continue;
    }
    if (log.root.toString('hex') === data.rootHash && log.lastPosition === data.lastPosition) {
      agreeing += 1;
      vouchedUpTo = Math.max(vouchedUpTo, data.lastPosition);
      continue;
    }
    const view = trees.viewAt.get(data.treeSize)?.toString('hex');
    problems.push({
      kind: 'head-mismatch',
      position: null,
      range: { after: vouchedUpTo, upTo: data.lastPosition },
      message:
        `${label} signs ${data.treeSize} events up to position ${data.lastPosition} with root ${data.rootHash}; ` +
        `the log's first ${data.treeSize} events end at position ${log.lastPosition} with root ${log.root.toString('hex')}. ` +
        (view === data.rootHash
          ? 'The Merkle view agrees with the head: the events listed as changed, missing or added are where the log was altered.'
          : `The Merkle view ${view === undefined ? 'does not reach this head' : 'differs from the head too'}: the log was altered after position ${vouchedUpTo} and at or before ${data.lastPosition}.`),
    });
  }
  return { agreeing, vouchedUpTo, coveredUpTo, problems };
}

/**
 * A difference at a position a signed head vouches for is the view's fault; one past every
 * signed head has only the view's word against the log.
 */
function blame(difference: VerificationProblem, heads: HeadFindings): VerificationProblem {
  const position = difference.position ?? 0;
  if (position <= heads.vouchedUpTo) {
    return {
      kind: 'view-altered',
      position,
      message: `the Merkle view's leaf at position ${position} differs from the log, and a signed head agreeing with the log covers it: the view was altered (npm run rebuild -- merkle)`,
    };
  }
  if (position <= heads.coveredUpTo) return difference;
  return { ...difference, message: `${difference.message} (no signed head covers it yet)` };
}

export async function verifyLog(
  deps: VerificationDependencies,
  options: VerificationOptions = {},
): Promise<VerificationReport> {
  const { store } = deps;
  const { heads, problems } = readHeads(await store.readStream(treeHeadsStream), options.savedHeads ?? []);
  const checkedUpTo = await store.headPosition();
  const comparedUpTo = Math.min(checkedUpTo, await deps.viewPosition());
  const trees = await compareLogWithView(
    deps,
    { checkedUpTo, comparedUpTo, batchSize: options.batchSize ?? 5000 },
    new Set(heads.map((h) => h.data.treeSize)),
    options.onProgress,
  );
  const findings = checkHeads(heads, trees, deps.checkSignature);
  const ordered = [
    ...problems,
    ...findings.problems,
    ...trees.differences.map((d) => blame(d, findings)),
  ].sort(
    (a, b) =>
      (a.position ?? a.range?.upTo ?? Number.MAX_SAFE_INTEGER) -
      (b.position ?? b.range?.upTo ?? Number.MAX_SAFE_INTEGER),
  );
  const firstBad = ordered.reduce<number | null>(
    (first, p) =>
      EVENT_LEVEL.has(p.kind) && p.position !== null && (first === null || p.position < first)
        ? p.position
        : first,
    null,
  );
  return {
    ok: ordered.length === 0,
    checkedUpTo,
    treeSize: trees.log.size,
    rootHash: trees.log.root().toString('hex'),
    comparedUpTo,
    heads: { checked: heads.length, agreeing: findings.agreeing },
    firstBadPosition: firstBad,
    problems: ordered.slice(0, MAX_PROBLEMS),
    moreProblems: Math.max(0, ordered.length - MAX_PROBLEMS),
  };
}
