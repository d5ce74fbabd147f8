/**
 * Sign-in slots: one stream per user and application that names the session holding it.
 * - replaceable slot (`signin-<userId>-<applicationId>`): Open, OpenWithTicket and
 *   OpenWithTicketEx claim it; a claim replaces the holder (SessionReplaced, same append).
 * - protocol slot (`protocol-session-<userId>-<applicationId>`, SFTP and FTPS only):
 *   OpenImmutable returns the holder while it is alive and claims the slot otherwise.
 * Claims are appended at the slot's exact revision, so across processes exactly one
 * session per slot wins any race.
 */
import { type Decider, DomainError } from '../decider.js';
import type { EventOfType } from '../events/catalogue.js';

export type SlotEvent = EventOfType<'SessionSlotClaimed' | 'SessionReplaced'>;
export type SlotKind = EventOfType<'SessionSlotClaimed'>['data']['slot'];

export type SlotCommand = {
  type: 'ClaimSlot';
  slot: SlotKind;
  userId: number;
  applicationId: number;
  sessionId: string;
  /** For a protocol slot: whether the current holder is still alive (then it keeps the slot). */
  holderAlive: boolean;
};

export type SlotState = { holder: string | null };

export function slotStream(slot: SlotKind, userId: number, applicationId: number): string {
  return slot === 'replaceable'
    ? `signin-${userId}-${applicationId}`
    : `protocol-session-${userId}-${applicationId}`;
}

export const slotDecider: Decider<SlotCommand, SlotEvent, SlotState> = {
  initialState: () => ({ holder: null }),
  decide(command, state) {
    if (state.holder === command.sessionId) return [];
    if (command.slot === 'protocol' && state.holder !== null && command.holderAlive) {
      throw new DomainError('slot-held', 'the user already has an alive session for this protocol', {
        sessionId: state.holder,
      });
    }
    const claimed: SlotEvent = {
      type: 'SessionSlotClaimed',
      data: {
        slot: command.slot,
        userId: command.userId,
        applicationId: command.applicationId,
        sessionId: command.sessionId,
        previousSessionId: state.holder,
      },
    };
    if (command.slot === 'replaceable' && state.holder !== null) {
      return [
        {
          type: 'SessionReplaced',
          data: {
            sessionId: state.holder,
            userId: command.userId,
            applicationId: command.applicationId,
            replacedBy: command.sessionId,
          },
        },
        claimed,
      ];
    }
    return [claimed];
  },
  evolve(state, event) {
    return event.type === 'SessionSlotClaimed' ? { holder: event.data.sessionId } : state;
  },
};
