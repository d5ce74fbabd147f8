/**
 * A delivery's life (delivery-events.ts): scheduled once, then attempts, each claimed before
 * it starts and closed by success or failure; retryable failures wait their back-off, the last
 * allowed failure (or one that cannot be retried) dead-letters it; an administrator may
 * requeue a dead letter. An attempt still open when its lease has run out was abandoned by a
 * process that died: the next claim records it as failed first, so the log says so.
 */
import { type Decider, DomainError } from '../decider.js';
import type { EventOfType } from '../events/catalogue.js';
import { type RetryPolicy, retryAt } from './retry-policy.js';

export type DeliveryEvent = EventOfType<
  | 'DeliveryScheduled'
  | 'DeliveryAttempted'
  | 'DeliveryAttemptFailed'
  | 'DeliverySucceeded'
  | 'DeliveryDeadLettered'
  | 'DeliveryRequeued'
  | 'UploadScanned'
>;
type Scheduled = EventOfType<'DeliveryScheduled'>['data'];

/** The states a scheduled delivery can be in (the deliveries view's `state`). */
export const DELIVERY_STATES = ['scheduled', 'attempting', 'waiting', 'succeeded', 'dead'] as const;
export type DeliveryStatus = 'none' | (typeof DELIVERY_STATES)[number];

export interface DeliveryState {
  readonly status: DeliveryStatus;
  readonly scheduled: Scheduled | null;
  /** Attempts made so far. */
  readonly attempts: number;
  /** Attempts made before the last requeue: a requeued delivery gets the policy's attempts again. */
  readonly requeuedAfter: number;
  readonly leaseUntil: string | null;
  readonly retryAt: string | null;
}

export type DeliveryCommand =
  | { type: 'Schedule'; delivery: Scheduled }
  | { type: 'Claim'; deliveryId: string; now: Date; leaseMs: number; policy: RetryPolicy }
  | {
      type: 'Succeed';
      deliveryId: string;
      attempt: number;
      result: string;
      scanned?: EventOfType<'UploadScanned'>;
    }
  | {
      type: 'Fail';
      deliveryId: string;
      attempt: number;
      error: string;
      retryable: boolean;
      now: Date;
      policy: RetryPolicy;
    }
  | { type: 'Requeue'; deliveryId: string };

const initialState = (): DeliveryState => ({
  status: 'none',
  scheduled: null,
  attempts: 0,
  requeuedAfter: 0,
  leaseUntil: null,
  retryAt: null,
});

/** At most 1,000 characters, as the events allow. */
const bounded = (text: string): string =>
  text.length > 1000 ? `${text.slice(0, 999)}…` : text || '(no message)';

function failure(
  state: DeliveryState,
  deliveryId: string,
  attempt: number,
  error: string,
  retryable: boolean,
  now: Date,
  policy: RetryPolicy,
): DeliveryEvent[] {
  const next =
    retryable && attempt < state.requeuedAfter + policy.maxAttempts
      ? retryAt(policy, attempt, now).toISOString()
      : null;
  const failed: DeliveryEvent = {
    type: 'DeliveryAttemptFailed',
    data: { deliveryId, attempt, error: bounded(error), retryable, retryAt: next },
  };
  if (next !== null) return [failed];
  const reason = retryable ? `gave up after ${attempt} attempts: ${error}` : error;
  return [
    failed,
    { type: 'DeliveryDeadLettered', data: { deliveryId, attempts: attempt, reason: bounded(reason) } },
  ];
}

export const deliveryDecider: Decider<DeliveryCommand, DeliveryEvent, DeliveryState> = {
  initialState,
  decide(command, state) {
    if (command.type === 'Schedule') {
      // Scheduling again (a replay after a crash) changes nothing.
      return state.status === 'none' ? [{ type: 'DeliveryScheduled', data: command.delivery }] : [];
    }
    if (state.status === 'none') throw new DomainError('delivery-not-found', 'no such delivery');
    const { deliveryId } = command;
    switch (command.type) {
      case 'Claim': {
        const { now } = command;
        const events: DeliveryEvent[] = [];
        if (state.status === 'attempting') {
          if (state.leaseUntil !== null && Date.parse(state.leaseUntil) > now.getTime())
            throw new DomainError('delivery-busy', 'an attempt is under way');
          events.push(
            ...failure(
              state,
              deliveryId,
              state.attempts,
              'abandoned: the attempt outlived its lease (its process stopped)',
              true,
              now,
              command.policy,
            ),
          );
          if (events.some((e) => e.type === 'DeliveryDeadLettered')) return events;
        } else if (state.status === 'waiting') {
          if (state.retryAt !== null && Date.parse(state.retryAt) > now.getTime())
            throw new DomainError('delivery-not-due', 'the next attempt is not due yet');
        } else if (state.status !== 'scheduled') {
          throw new DomainError('delivery-finished', `the delivery is ${state.status}`);
        }
        const attempt = state.attempts + 1;
        const leaseUntil = new Date(now.getTime() + command.leaseMs).toISOString();
        return [...events, { type: 'DeliveryAttempted', data: { deliveryId, attempt, leaseUntil } }];
      }
      case 'Succeed':
      case 'Fail': {
        if (state.status !== 'attempting' || state.attempts !== command.attempt)
          throw new DomainError('attempt-not-current', `attempt ${command.attempt} is not the one under way`);
        if (command.type === 'Fail')
          return failure(
            state,
            deliveryId,
            command.attempt,
            command.error,
            command.retryable,
            command.now,
            command.policy,
          );
        const succeeded: DeliveryEvent = {
          type: 'DeliverySucceeded',
          data: { deliveryId, attempt: command.attempt, result: bounded(command.result) },
        };
        return command.scanned ? [command.scanned, succeeded] : [succeeded];
      }
      case 'Requeue':
        if (state.status !== 'dead')
          throw new DomainError('delivery-not-dead', `the delivery is ${state.status}, not dead-lettered`);
        return [{ type: 'DeliveryRequeued', data: { deliveryId } }];
    }
  },
  evolve(state, event) {
    switch (event.type) {
      case 'DeliveryScheduled':
        return { ...state, status: 'scheduled', scheduled: event.data };
      case 'DeliveryAttempted':
        return {
          ...state,
          status: 'attempting',
          attempts: event.data.attempt,
          leaseUntil: event.data.leaseUntil,
        };
      case 'DeliveryAttemptFailed':
        return { ...state, status: 'waiting', leaseUntil: null, retryAt: event.data.retryAt };
      case 'DeliverySucceeded':
        return { ...state, status: 'succeeded', leaseUntil: null };
      case 'DeliveryDeadLettered':
        return { ...state, status: 'dead', retryAt: null };
      case 'DeliveryRequeued':
        return { ...state, status: 'scheduled', requeuedAfter: state.attempts };
      case 'UploadScanned':
        return state;
    }
  },
};
