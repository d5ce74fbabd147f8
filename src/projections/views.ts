/**
 * Every view Sluice keeps: the server runs all of them, `npm run rebuild` rebuilds any one.
 */
import { applicationsProjection } from './applications-view.js';
import { auditProjection } from './audit/write.js';
import { filesProjection } from './files-view.js';
import { merkleProjection } from './merkle-tree.js';
import type { Projection } from './projection.js';
import { serverInstancesProjection } from './server-instances.js';
import { sessionsProjection } from './sessions-view.js';
import { usersProjection } from './users-view.js';

export const allProjections: readonly Projection[] = [
  serverInstancesProjection,
  usersProjection,
  applicationsProjection,
  sessionsProjection,
  auditProjection,
  filesProjection,
  merkleProjection,
];
