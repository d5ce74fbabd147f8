/**
 * Every view Sluice keeps: the server runs all of them, `npm run rebuild` rebuilds any one.
 * The flows view is also a reaction (it schedules deliveries), so it is built with the
 * scheduler it appends through.
 */
import { applicationsProjection } from './applications-view.js';
import { auditProjection } from './audit/write.js';
import { deliveriesView } from './deliveries-view.js';
import { filesProjection } from './files-view.js';
import { type FlowsViewOptions, flowsView } from './flows-view.js';
import { merkleProjection } from './merkle-tree.js';
import { notifiersView } from './notifiers-view.js';
import type { Projection } from './projection.js';
import { serverInstancesProjection } from './server-instances.js';
import { sessionsProjection } from './sessions-view.js';
import { usersProjection } from './users-view.js';

export type Reactions = FlowsViewOptions;

export function allProjections(reactions: Reactions): readonly Projection[] {
  return [
    serverInstancesProjection,
    usersProjection,
    applicationsProjection,
    sessionsProjection,
    auditProjection,
    filesProjection,
    merkleProjection,
    deliveriesView,
    flowsView(reactions),
    notifiersView(reactions),
  ];
}
