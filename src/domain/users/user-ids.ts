/**
 * Integer user ids, unique across processes: every id is an event on the `user-ids` stream,
 * appended at the stream's exact revision, so two creators can never take the same id.
 */
import type { Decider } from '../decider.js';
import type { EventOfType } from '../events/catalogue.js';

export type UserIdEvent = EventOfType<'UserIdAllocated'>;
export type UserIdCommand = { type: 'AllocateUserId' };
export type UserIdState = { lastUserId: number };

export const USER_IDS_STREAM = 'user-ids';

export const userIdDecider: Decider<UserIdCommand, UserIdEvent, UserIdState> = {
  initialState: () => ({ lastUserId: 0 }),
  decide: (_command, state) => [{ type: 'UserIdAllocated', data: { userId: state.lastUserId + 1 } }],
  evolve: (state, event) => ({ lastUserId: Math.max(state.lastUserId, event.data.userId) }),
};
