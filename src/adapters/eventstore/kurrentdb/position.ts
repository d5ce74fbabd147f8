/**
 * How a KurrentDB `$all` position becomes the port's `globalPosition` (a JS number that grows
 * strictly in delivery order) and back.
 *
 * The encoding: `globalPosition = commitPosition`, and only for events whose commit and prepare
 * positions are equal. Why that is sound:
 *
 * - Every append made through the gRPC API is an implicit transaction whose events are each
 *   written as a self-committed prepare record (`PrepareFlags.IsCommitted`, see the
 *   `WritePrepares` handler of KurrentDB's StorageWriterService). For such a record the `$all`
 *   reader reports `commit = prepare = the record's own log position` (AllReader.cs:
 *   `new CommitEventRecord(eventRecord, prepare.LogPosition)`), so every event of a multi-event
 *   append has a position of its own (kurrent-io/KurrentDB-Client-Dotnet#20 shows C == P per
 *   event after a 4,096-event append; the maintainers' note on kurrent-io/KurrentDB#3989: the
 *   prepare position differs only for explicit transactions, which gRPC cannot write).
 * - Log positions are byte offsets into the transaction log, written by one writer in order, and
 *   `$all` is read in log order, so they strictly grow in delivery order. They are below 2^53
 *   until the log holds 8 PiB; past that (or for an explicit-transaction event, commit ≠ prepare)
 *   the encoding refuses with `PositionEncodingError` instead of rounding.
 * - Log position 0 holds the node's first record (the epoch record a node writes when it becomes
 *   leader, EpochManager.WriteNewEpoch, before any client write), never an application event, so
 *   0 stays free to mean "before the first event".
 *
 * Decoding: `n` → `{ commit: n, prepare: n }`, the exact position of the event it came from, which
 * is a valid place to start a read (reads start inclusively, subscriptions exclusively; the
 * store drops anything at or before `after` either way). A checkpoint therefore stays valid
 * across restarts of Sluice and of KurrentDB, and across a file-copy backup and restore of the
 * KurrentDB database (positions are part of the files). It is NOT valid across event stores:
 * switching between PostgreSQL and KurrentDB needs projections rebuilt from 0.
 */
import type { Position } from '@eventstore/db-client';

export class PositionEncodingError extends Error {
  override readonly name = 'PositionEncodingError';
}

const MAX = BigInt(Number.MAX_SAFE_INTEGER);

/** The port's global position of an event at `$all` position `position`. */
export function toGlobalPosition(position: Position | undefined): number {
  if (position === undefined) {
    throw new PositionEncodingError(
      'KurrentDB returned an event without its $all position (stream reads carry it from server 22.6 on)',
    );
  }
  const { commit, prepare } = position;
  if (commit !== prepare) {
    throw new PositionEncodingError(
      `event at commit ${commit} / prepare ${prepare} was written in an explicit transaction; Sluice's KurrentDB database must only be written through Sluice`,
    );
  }
  if (commit <= 0n || commit > MAX) {
    throw new PositionEncodingError(`$all position ${commit} is outside 1..2^53-1`);
  }
  return Number(commit);
}

/** Where to start reading `$all` to see what follows global position `after` (0: the start). */
export function fromGlobalPosition(after: number): Position | 'start' {
  if (!Number.isSafeInteger(after) || after < 0) {
    throw new RangeError(`a position must be a non-negative integer, got ${after}`);
  }
  if (after === 0) return 'start';
  const exact = BigInt(after);
  return { commit: exact, prepare: exact };
}

/** Orders two `$all` positions the way KurrentDB does: by commit, then by prepare. */
export function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}
