/**
 * The KurrentDB adapter's pure mappings: `$all` positions ↔ global positions, the port's expected
 * revisions → the client's, the client's WrongExpectedVersionError (built both ways the client
 * builds it) → WrongExpectedRevision, which subscription errors are retried, and connection strings.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AccessDeniedError,
  CancelledError,
  convertToCommandError,
  DeadlineExceededError,
  NotLeaderError,
  UnavailableError,
  UnknownError,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import {
  describeEventStoreUrl,
  oneLine,
  toClientConnectionString,
} from '../../src/adapters/eventstore/kurrentdb/connection.js';
import {
  EventDecodeError,
  isRetryableSubscriptionError,
  revisionToNumber,
  toActualRevision,
  toAppendError,
  toClientExpectedRevision,
} from '../../src/adapters/eventstore/kurrentdb/errors.js';
import {
  comparePositions,
  fromGlobalPosition,
  PositionEncodingError,
  toGlobalPosition,
} from '../../src/adapters/eventstore/kurrentdb/position.js';
import { WrongExpectedRevision } from '../../src/domain/event-store.js';

/** gRPC status codes the client maps (grpc.status). */
const FAILED_PRECONDITION = 9;
const UNAVAILABLE = 14;
const NOT_FOUND = 5;

/** A gRPC ServiceError as @grpc/grpc-js reports one: code, details and trailing metadata. */
function serviceError(code: number, details: string, metadata: Record<string, string> = {}): Error {
  return Object.assign(new Error(`${code} ${details}`), {
    code,
    details,
    metadata: { getMap: () => metadata },
  });
}

describe('KurrentDB position encoding', () => {
  it('a self-committed event (commit = prepare) is its commit position', () => {
    assert.equal(toGlobalPosition({ commit: 4242n, prepare: 4242n }), 4242);
    assert.equal(
      toGlobalPosition({ commit: BigInt(Number.MAX_SAFE_INTEGER), prepare: BigInt(Number.MAX_SAFE_INTEGER) }),
      Number.MAX_SAFE_INTEGER,
    );
  });

  it('round-trips: decoding a global position gives the exact $all position it came from', () => {
    for (const n of [1, 2, 127, 2113, 268_435_456, 2 ** 40 + 17, Number.MAX_SAFE_INTEGER]) {
      const position = fromGlobalPosition(n);
      if (position === 'start') assert.fail(`${n} decoded as the start`);
      assert.deepEqual(position, { commit: BigInt(n), prepare: BigInt(n) });
      assert.equal(toGlobalPosition(position), n);
    }
    assert.equal(fromGlobalPosition(0), 'start', '0 is before the first event');
  });

  it('keeps order: global positions compare as the $all positions do', () => {
    const positions = [100n, 101n, 4096n, 2n ** 33n, 2n ** 52n].map((p) => ({ commit: p, prepare: p }));
    for (let i = 1; i < positions.length; i++) {
      assert.equal(comparePositions(positions[i - 1]!, positions[i]!), -1);
      assert.ok(toGlobalPosition(positions[i - 1]) < toGlobalPosition(positions[i]));
    }
    assert.equal(comparePositions({ commit: 5n, prepare: 3n }, { commit: 5n, prepare: 4n }), -1);
    assert.equal(comparePositions({ commit: 5n, prepare: 4n }, { commit: 5n, prepare: 4n }), 0);
  });

  it('refuses what it cannot encode exactly instead of rounding or colliding', () => {
    const cases: Array<[string, Parameters<typeof toGlobalPosition>[0]]> = [
      ['explicit transaction (commit ≠ prepare)', { commit: 5000n, prepare: 4900n }],
      ['past 2^53', { commit: 2n ** 53n, prepare: 2n ** 53n }],
      ['no position (old server, stream read)', undefined],
      ['no position reported (2^64 - 1)', { commit: 2n ** 64n - 1n, prepare: 2n ** 64n - 1n }],
      ['log position 0', { commit: 0n, prepare: 0n }],
    ];
    for (const [what, position] of cases) {
      assert.throws(() => toGlobalPosition(position), PositionEncodingError, what);
    }
    for (const bad of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, Number.NaN]) {
      assert.throws(() => fromGlobalPosition(bad), RangeError, String(bad));
    }
  });
});

describe('KurrentDB expected revisions and errors', () => {
  it('maps expected revisions to the client', () => {
    assert.equal(toClientExpectedRevision('any'), 'any');
    assert.equal(toClientExpectedRevision('no_stream'), 'no_stream');
    assert.equal(toClientExpectedRevision('stream_exists'), 'stream_exists');
    assert.equal(toClientExpectedRevision(0), 0n);
    assert.equal(toClientExpectedRevision(41), 41n);
    for (const bad of [-1, 0.5, Number.MAX_SAFE_INTEGER + 1]) {
      assert.throws(() => toClientExpectedRevision(bad), RangeError);
    }
  });

  it('maps revisions back, a missing or negative one to no_stream', () => {
    assert.equal(revisionToNumber(7n), 7);
    assert.throws(() => revisionToNumber(-1n), RangeError);
    assert.equal(toActualRevision(3n), 3);
    assert.equal(toActualRevision('no_stream'), 'no_stream');
    assert.equal(toActualRevision(-1n), 'no_stream');
  });

  it('turns the client WrongExpectedVersionError (append / batchAppend replies) into WrongExpectedRevision', () => {
    const cases: Array<[WrongExpectedVersionError, number | 'no_stream']> = [
      [
        new WrongExpectedVersionError(undefined, { streamName: 'pfx-s', expected: 'no_stream', current: 4n }),
        4,
      ],
      [
        new WrongExpectedVersionError(undefined, {
          streamName: 'pfx-s',
          expected: 'stream_exists',
          current: 'no_stream',
        }),
        'no_stream',
      ],
    ];
    for (const [clientError, actual] of cases) {
      const mapped = toAppendError(
        clientError,
        's',
        clientError.expectedVersion === 'no_stream' ? 'no_stream' : 2,
      );
      assert.ok(mapped instanceof WrongExpectedRevision);
      assert.equal(mapped.streamId, 's', 'the port stream id, not the prefixed name');
      assert.equal(mapped.actual, actual);
    }
  });

  it('turns a gRPC status with wrong-expected-version metadata (unary path) into WrongExpectedRevision', () => {
    const clientError = convertToCommandError(
      serviceError(FAILED_PRECONDITION, 'wrong expected version', {
        exception: 'wrong-expected-version',
        'stream-name': 's',
        'expected-version': '5',
        'actual-version': '1',
      }),
    );
    assert.ok(clientError instanceof WrongExpectedVersionError);
    const mapped = toAppendError(clientError, 's', 5);
    assert.ok(mapped instanceof WrongExpectedRevision);
    assert.deepEqual([mapped.streamId, mapped.expected, mapped.actual], ['s', 5, 1]);

    const absent = toAppendError(
      convertToCommandError(
        serviceError(FAILED_PRECONDITION, 'wrong expected version', {
          exception: 'wrong-expected-version',
          'stream-name': 's',
          'expected-version': '0',
        }),
      ),
      's',
      0,
    );
    assert.ok(absent instanceof WrongExpectedRevision);
    assert.equal(absent.actual, 'no_stream');
  });

  it('passes other append errors through unchanged', () => {
    const unavailable = new UnavailableError(undefined, 'down');
    assert.equal(toAppendError(unavailable, 's', 'any'), unavailable);
  });

  it('retries subscriptions on connection trouble, not on errors another attempt cannot cure', () => {
    const unavailable = convertToCommandError(serviceError(UNAVAILABLE, 'No connection established'));
    assert.ok(unavailable instanceof UnavailableError);
    const notLeader = convertToCommandError(
      serviceError(NOT_FOUND, 'Leader info available', {
        exception: 'not-leader',
        'leader-endpoint-host': 'node2',
        'leader-endpoint-port': '2113',
      }),
    );
    assert.ok(notLeader instanceof NotLeaderError);
    for (const error of [
      unavailable,
      notLeader,
      new CancelledError(undefined, 'server shutting down'),
      new DeadlineExceededError(undefined, 'deadline'),
      new UnknownError(undefined, 'RST_STREAM'),
      new Error('getaddrinfo ENOTFOUND kurrentdb'),
    ]) {
      assert.equal(isRetryableSubscriptionError(error), true, String(error));
    }
    for (const error of [
      new AccessDeniedError(undefined, 'Access denied'),
      new PositionEncodingError('commit ≠ prepare'),
      new EventDecodeError('not JSON'),
    ]) {
      assert.equal(isRetryableSubscriptionError(error), false, String(error));
    }
  });
});

describe('KurrentDB connection strings', () => {
  it('rewrites the kurrentdb schemes for @eventstore/db-client, keeping the rest', () => {
    assert.equal(toClientConnectionString('esdb://h:2113?tls=false'), 'esdb://h:2113?tls=false');
    assert.equal(toClientConnectionString('kurrentdb://u:p@h:2113?tls=false'), 'esdb://u:p@h:2113?tls=false');
    assert.equal(
      toClientConnectionString('kurrentdb+discover://a:2113,b:2113,c:2113'),
      'esdb+discover://a:2113,b:2113,c:2113',
    );
    assert.throws(() => toClientConnectionString('http://h:2113'));
  });

  it('describes a URL without its password', () => {
    assert.equal(
      describeEventStoreUrl('esdb://admin:changeit@kurrentdb:2113?tls=false'),
      'esdb://admin@kurrentdb:2113?tls=false',
    );
    assert.equal(describeEventStoreUrl('kurrentdb+discover://a:1,b:2'), 'kurrentdb+discover://a:1,b:2');
    assert.equal(describeEventStoreUrl('esdb://:secret@h:2113'), 'esdb://h:2113');
  });

  it('puts a gRPC error message on one line', () => {
    assert.equal(
      oneLine(
        '14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: ',
      ),
      '14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1.',
    );
    assert.equal(oneLine('a\n  b\r\nc'), 'a b c');
  });
});
