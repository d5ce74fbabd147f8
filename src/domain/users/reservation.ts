/**
 * Uniqueness through the event store: one stream per case-folded user name or e-mail address
 * (`user-name-<value>`, `user-email-<value>`). Whoever appends the reservation first holds
 * the value; concurrent creators conflict on the stream's expected revision, in any process.
 */
import { type Decider, DomainError } from '../decider.js';
import type { EventOfType } from '../events/catalogue.js';

export type ReservationEvent = EventOfType<'UniqueValueReserved' | 'UniqueValueReleased'>;
export type ReservationScope = ReservationEvent['data']['scope'];

export type ReservationCommand =
  | {
      type: 'Reserve';
      scope: ReservationScope;
      value: string;
      userId: number;
      /**
       * The current holder is known to be gone (its user was deleted, or its creation never
       * completed): the reservation may be taken over.
       */
      holderIsStale: boolean;
    }
  | { type: 'Release'; scope: ReservationScope; value: string; userId: number };

export type ReservationState = { holder: number | null };

/** Case-insensitive identity of a user name or e-mail address. */
export function foldCase(value: string): string {
  return value.normalize('NFC').toLowerCase();
}

export function reservationStream(scope: ReservationScope, value: string): string {
  return `${scope === 'userName' ? 'user-name' : 'user-email'}-${foldCase(value)}`;
}

export const reservationDecider: Decider<ReservationCommand, ReservationEvent, ReservationState> = {
  initialState: () => ({ holder: null }),
  decide(command, state) {
    const value = foldCase(command.value);
    switch (command.type) {
      case 'Reserve': {
        if (state.holder === command.userId) return [];
        if (state.holder !== null && !command.holderIsStale) {
          throw new DomainError(
            command.scope === 'userName' ? 'user-name-taken' : 'email-address-taken',
            `${command.scope === 'userName' ? 'user name' : 'e-mail address'} ${command.value} is already taken`,
            { holder: state.holder },
          );
        }
        const released: ReservationEvent[] =
          state.holder === null
            ? []
            : [{ type: 'UniqueValueReleased', data: { scope: command.scope, value, userId: state.holder } }];
        return [
          ...released,
          { type: 'UniqueValueReserved', data: { scope: command.scope, value, userId: command.userId } },
        ];
      }
      case 'Release':
        if (state.holder !== command.userId) return [];
        return [
          { type: 'UniqueValueReleased', data: { scope: command.scope, value, userId: command.userId } },
        ];
      default: {
        const never: never = command;
        throw new Error(`unhandled command ${JSON.stringify(never)}`);
      }
    }
  },
  evolve(state, event) {
    switch (event.type) {
      case 'UniqueValueReserved':
        return { holder: event.data.userId };
      case 'UniqueValueReleased':
        return state.holder === event.data.userId ? { holder: null } : state;
      default:
        return state;
    }
  },
};
