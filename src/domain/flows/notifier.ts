/** A notifier's definition (notifier-events.ts): defined once, removed once. */
import { type Decider, DomainError } from '../decider.js';
import type { EventOfType } from '../events/catalogue.js';

export type NotifierEvent = EventOfType<'NotifierDefined' | 'NotifierRemoved'>;
export type NotifierDefinition = EventOfType<'NotifierDefined'>['data'];

export type NotifierCommand =
  | { type: 'DefineNotifier'; notifier: NotifierDefinition }
  | { type: 'RemoveNotifier'; notifierId: string };

export type NotifierState = { status: 'none' | 'defined' | 'removed' };

export const notifierDecider: Decider<NotifierCommand, NotifierEvent, NotifierState> = {
  initialState: () => ({ status: 'none' }),
  decide(command, state) {
    if (command.type === 'DefineNotifier') {
      if (state.status !== 'none') throw new DomainError('notifier-exists', 'a notifier with this id exists');
      return [{ type: 'NotifierDefined', data: command.notifier }];
    }
    if (state.status !== 'defined') throw new DomainError('notifier-not-found', 'no such notifier');
    return [{ type: 'NotifierRemoved', data: { notifierId: command.notifierId } }];
  },
  evolve(_state, event) {
    return { status: event.type === 'NotifierDefined' ? 'defined' : 'removed' };
  },
};
