/**
 * Mapping between the port's expected revisions and errors and @eventstore/db-client's.
 *
 * The client reports a failed optimistic-concurrency check as `WrongExpectedVersionError`, with
 * `actualVersion` either a bigint revision or `'no_stream'` (both its unary `append` and its
 * `batchAppend` paths build it that way); the port wants `WrongExpectedRevision(streamId,
 * expected, actual)` with the expected revision the caller passed and `actual` a number or
 * `'no_stream'`.
 */
import {
  AccessDeniedError,
  ANY,
  type AppendExpectedRevision,
  type CurrentRevision,
  ErrorType,
  InvalidArgumentError,
  isCommandError,
  MaxAppendSizeExceededError,
  NO_STREAM,
  STREAM_EXISTS,
  StreamDeletedError,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import { type ExpectedRevision, WrongExpectedRevision } from '../../../domain/event-store.js';
import { PositionEncodingError } from './position.js';

/** The client's expected revision for the port's. */
export function toClientExpectedRevision(expected: ExpectedRevision): AppendExpectedRevision {
  switch (expected) {
    case 'any':
      return ANY;
    case 'no_stream':
      return NO_STREAM;
    case 'stream_exists':
      return STREAM_EXISTS;
    default:
      if (!Number.isSafeInteger(expected) || expected < 0) {
        throw new RangeError(`expected revision must be a non-negative integer, got ${expected}`);
      }
      return BigInt(expected);
  }
}

/** A stream revision from the client as the port's number (revisions start at 0). */
export function revisionToNumber(revision: bigint): number {
  if (revision < 0n || revision > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`stream revision ${revision} is outside 0..2^53-1`);
  }
  return Number(revision);
}

/** The client's current revision as the port's `actual` (a negative revision means no stream). */
export function toActualRevision(current: CurrentRevision): number | 'no_stream' {
  if (current === 'no_stream' || current < 0n) return 'no_stream';
  return revisionToNumber(current);
}

function isWrongExpectedVersion(error: unknown): error is WrongExpectedVersionError {
  return (
    error instanceof WrongExpectedVersionError ||
    (error instanceof Error && isCommandError(error) && error.type === ErrorType.WRONG_EXPECTED_VERSION)
  );
}

/**
 * What an append's failure means to the port: a `WrongExpectedRevision` for a concurrency
 * conflict (`streamId` is the port's stream id, without the store's prefix), anything else as is.
 */
export function toAppendError(error: unknown, streamId: string, expected: ExpectedRevision): unknown {
  if (isWrongExpectedVersion(error)) {
    return new WrongExpectedRevision(streamId, expected, toActualRevision(error.actualVersion));
  }
  return error;
}

/**
 * Whether a subscription that failed with `error` should be opened again (after a back-off):
 * yes for connection trouble (server restarting, leader change, deadline, a dropped stream),
 * no for errors that another attempt cannot cure.
 */
export function isRetryableSubscriptionError(error: unknown): boolean {
  if (error instanceof PositionEncodingError || error instanceof EventDecodeError) return false;
  if (
    error instanceof AccessDeniedError ||
    error instanceof InvalidArgumentError ||
    error instanceof StreamDeletedError ||
    error instanceof MaxAppendSizeExceededError
  ) {
    return false;
  }
  return true;
}

/** An event in Sluice's namespace that is not a Sluice event (not JSON, or no JSON metadata). */
export class EventDecodeError extends Error {
  override readonly name = 'EventDecodeError';
}
