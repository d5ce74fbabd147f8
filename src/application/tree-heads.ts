/**
 * Signed tree heads (docs/tamper-evidence.md): the Merkle view's size, last position and root,
 * signed with the log key and recorded as a TreeHeadSigned event in the stream
 * `log-tree-heads`. A head is signed on demand (an auditor's call, recorded with them as actor)
 * and periodically by every instance, then only when something was recorded since the last
 * head; the stream's revision lets one instance win each round.
 */
import { type EventStore, WrongExpectedRevision } from '../domain/event-store.js';
import { type EventOfType, toNewEvent } from '../domain/events/catalogue.js';
import type { EventMetadata } from '../domain/events/envelope.js';
import { treeHeadsStream } from '../domain/events/log-events.js';
import { treeHeadMessage } from '../domain/merkle/tree-head.js';
import { metadataFor, systemMetadata } from './metadata.js';
import type { Clock, IdGenerator, LogSigner, RequestContext } from './ports.js';

export type TreeHeadData = EventOfType<'TreeHeadSigned'>['data'];

export interface SignedTreeHead extends TreeHeadData {
  /** Where the head itself was recorded. */
  readonly position: number;
}

/** The Merkle view as it stands. */
export interface TreeSnapshot {
  readonly size: number;
  readonly lastPosition: number;
  readonly rootHash: Buffer;
}

export interface TreeHeadsDependencies {
  readonly store: EventStore;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly signer: LogSigner;
  readonly tree: () => Promise<TreeSnapshot>;
  /** Resolves true once the Merkle view includes `position`, false after `timeoutMs`. */
  readonly waitForTree: (position: number, timeoutMs: number) => Promise<boolean>;
}

/** How long a head waits for the Merkle view to reach the log's head. */
const TREE_WAIT_MS = 5000;

/** The Merkle view did not catch up with the log in time; nothing was signed. */
export class TreeBehind extends Error {
  override readonly name = 'TreeBehind';
}

export class TreeHeads {
  constructor(private readonly deps: TreeHeadsDependencies) {}

  /** Signs the tree as it stands once it includes every event recorded before the call. */
  sign(context: RequestContext): Promise<SignedTreeHead> {
    return this.signAndRecord(metadataFor(context), 'any');
  }

  /**
   * The periodic head: signed unless the last event of the log is the last head (nothing
   * happened since), or another instance recorded a head meanwhile. Resolves with the head
   * recorded, if any.
   */
  async signIfChanged(): Promise<SignedTreeHead | undefined> {
    const { store } = this.deps;
    const [last] = await store.readStream(treeHeadsStream, { backwards: true, maxCount: 1 });
    if (last && last.globalPosition >= (await store.headPosition())) return undefined;
    try {
      return await this.signAndRecord(
        systemMetadata(this.deps.ids),
        last ? last.streamRevision : 'no_stream',
      );
    } catch (error) {
      if (error instanceof WrongExpectedRevision) return undefined;
      throw error;
    }
  }

  private async signAndRecord(
    metadata: EventMetadata,
    expectedRevision: number | 'any' | 'no_stream',
  ): Promise<SignedTreeHead> {
    const { store, signer } = this.deps;
    const head = await store.headPosition();
    if (!(await this.deps.waitForTree(head, TREE_WAIT_MS))) {
      throw new TreeBehind(`the Merkle view has not reached position ${head} yet`);
    }
    const tree = await this.deps.tree();
    if (tree.size === 0) throw new TreeBehind('the log is empty: there is nothing to sign');
    const signed = {
      treeSize: tree.size,
      lastPosition: tree.lastPosition,
      rootHash: tree.rootHash.toString('hex'),
      timestamp: this.deps.clock.now().toISOString(),
    };
    const data: TreeHeadData = {
      ...signed,
      keyId: signer.keyId,
      signature: signer.sign(treeHeadMessage(signed)),
    };
    const result = await store.appendToStream(
      treeHeadsStream,
      [toNewEvent({ type: 'TreeHeadSigned', data }, metadata)],
      { expectedRevision },
    );
    return { ...data, position: result.lastPosition };
  }
}
