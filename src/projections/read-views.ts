/**
 * The views as the rest of Sluice reads them: one port over the read model and the projection
 * runner's progress, so the composition root hands out one object instead of a lambda per query.
 * Each query is the view's own (its file says what it answers); this only binds them to the
 * database and, where a reader must not run ahead of the log, to the runner.
 */
import type { Kysely } from 'kysely';
import type { ReadModel } from '../adapters/readmodel/schema.js';
import type { EventStore } from '../domain/event-store.js';
import { listApplications } from './applications-view.js';
import { auditProjection } from './audit/write.js';
import { deliveriesView } from './deliveries-view.js';
import { fileDigest, filesProjection, storedBytes } from './files-view.js';
import {
  deliveryCounts,
  flowDefinition,
  listDeliveries,
  listFlows,
  listNotifiers,
  notifierDefinition,
} from './flows-queries.js';
import { consistencyProof, currentTree, inclusionProof, storedLeaves } from './merkle-proofs.js';
import { merkleProjection } from './merkle-tree.js';
import type { ProjectionRunner } from './runner.js';
import { sessionsDueToExpire } from './sessions-view.js';
import { listUsers } from './users-view.js';

type Bound<F> = F extends (db: Kysely<ReadModel>, ...rest: infer A) => infer R ? (...rest: A) => R : never;

export interface ReadViews {
  readonly db: Kysely<ReadModel>;
  readonly listUsers: Bound<typeof listUsers>;
  readonly listApplications: Bound<typeof listApplications>;
  readonly fileDigest: Bound<typeof fileDigest>;
  /** What a user stores, once the files view has caught up with the log (at most 5 s later). */
  readonly storedBytes: Bound<typeof storedBytes>;
  readonly sessionsDueToExpire: Bound<typeof sessionsDueToExpire>;
  readonly currentTree: Bound<typeof currentTree>;
  readonly inclusionProof: Bound<typeof inclusionProof>;
  readonly consistencyProof: Bound<typeof consistencyProof>;
  readonly storedLeaves: Bound<typeof storedLeaves>;
  readonly flowDefinition: Bound<typeof flowDefinition>;
  readonly listFlows: Bound<typeof listFlows>;
  readonly listDeliveries: Bound<typeof listDeliveries>;
  readonly notifierDefinition: Bound<typeof notifierDefinition>;
  readonly listNotifiers: Bound<typeof listNotifiers>;
  readonly deliveryCounts: Bound<typeof deliveryCounts>;
  /** Resolves true once every view (or the one named) has reached `position`, false after `timeoutMs`. */
  waitForPosition(position: number, timeoutMs: number, view?: string): Promise<boolean>;
  /** The last position the view named has taken in (0 before any). */
  position(view: string): number;
}

/** The view names the rest of Sluice waits on. */
export const viewNames = {
  audit: auditProjection.name,
  merkle: merkleProjection.name,
  deliveries: deliveriesView.name,
} as const;

export function readViews(db: Kysely<ReadModel>, runner: ProjectionRunner, store: EventStore): ReadViews {
  return {
    db,
    listUsers: (...args) => listUsers(db, ...args),
    listApplications: (...args) => listApplications(db, ...args),
    fileDigest: (...args) => fileDigest(db, ...args),
    storedBytes: async (userId) => {
      await runner.waitForPosition(await store.headPosition(), 5000, filesProjection.name);
      return storedBytes(db, userId);
    },
    sessionsDueToExpire: (...args) => sessionsDueToExpire(db, ...args),
    currentTree: () => currentTree(db),
    inclusionProof: (...args) => inclusionProof(db, ...args),
    consistencyProof: (...args) => consistencyProof(db, ...args),
    storedLeaves: (...args) => storedLeaves(db, ...args),
    flowDefinition: (...args) => flowDefinition(db, ...args),
    listFlows: (...args) => listFlows(db, ...args),
    listDeliveries: (...args) => listDeliveries(db, ...args),
    notifierDefinition: (...args) => notifierDefinition(db, ...args),
    listNotifiers: (...args) => listNotifiers(db, ...args),
    deliveryCounts: () => deliveryCounts(db),
    waitForPosition: (position, timeoutMs, view) => runner.waitForPosition(position, timeoutMs, view),
    position: (view) => runner.positions()[view] ?? 0,
  };
}
