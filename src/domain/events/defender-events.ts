/**
 * The sign-in defender: bans of a source address or a user name after repeated failures, their
 * lifting, and what was refused while they held. Refusals during a ban are never recorded one
 * by one (an attacker could grow the log without bound); they are summed into one event per
 * ban and summary interval. So are failed sign-ins at unknown user names past a budget per
 * minute (SignInFailuresSummarized): random names from many addresses add a bounded number.
 */
import { Type } from '@sinclair/typebox';
import { eventSchema, Text, Timestamp, UserId } from './schema-helpers.js';
import { SignInFailureReason } from './session-events.js';

export const BanScope = Type.Union([Type.Literal('address'), Type.Literal('user')]);

export const SignInBanned = eventSchema('SignInBanned', {
  scope: BanScope,
  /** The client address, or the user name tried (case-folded). */
  key: Text(254, 1),
  /** Failures counted in the window that led to the ban. */
  failures: Type.Integer({ minimum: 1 }),
  /** 1 for the first ban of this key, growing with each repeat (and so does its length). */
  banNumber: Type.Integer({ minimum: 1 }),
  until: Timestamp,
});

export const SignInBanLifted = eventSchema('SignInBanLifted', {
  scope: BanScope,
  key: Text(254, 1),
  liftedBy: UserId,
});

export const SignInAttemptsRefused = eventSchema('SignInAttemptsRefused', {
  scope: BanScope,
  key: Text(254, 1),
  /** Sign-in attempts refused because of the ban since the last summary. */
  count: Type.Integer({ minimum: 1 }),
  from: Timestamp,
  to: Timestamp,
});

export const SignInFailuresSummarized = eventSchema('SignInFailuresSummarized', {
  /** The reason of the failures summed (each one not recorded as a SignInFailed of its own). */
  reason: SignInFailureReason,
  /** Failed sign-ins past the budget of SignInFailed events since the last summary. */
  count: Type.Integer({ minimum: 1 }),
  from: Timestamp,
  to: Timestamp,
});

/** The stream of a key's `banNumber`-th ban: SignInBanned, then SignInBanLifted if an admin lifts it. */
export const banStream = (scope: 'address' | 'user', key: string, banNumber: number): string =>
  `signin-ban-${scope}-${banNumber}-${key}`;

/** The stream of a key's `number`-th summary of attempts refused during its bans. */
export const refusedSummaryStream = (scope: 'address' | 'user', key: string, number: number): string =>
  `signin-refused-${scope}-${number}-${key}`;

/** The stream of the `number`-th summary of failures with one reason past their budget. */
export const failuresSummaryStream = (reason: string, number: number): string =>
  `signin-failures-${number}-${reason}`;
