import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asDomainEvent, InvalidEvent, toNewEvent, validateEvent } from '../../src/domain/events/catalogue.js';
import type { EventMetadata } from '../../src/domain/events/envelope.js';

const started = {
  type: 'ServerStarted' as const,
  data: {
    instanceId: '0190b2a0-1111-7000-8000-000000000001',
    version: '0.1.0',
    hostname: 'host',
    pid: 42,
    eventStore: 'postgres' as const,
    startedAt: '2026-11-29T01:00:00.000Z',
  },
};
const metadata: EventMetadata = {
  envelopeVersion: 1,
  correlationId: '0190b2a0-2222-7000-8000-000000000002',
  actor: { userId: 7, applicationId: 3, clientIp: '127.0.0.1', userString: 'X' },
};

describe('the event catalogue', () => {
  it('accepts a well-formed event and keeps its type', () => {
    assert.deepEqual(validateEvent(started), started);
    assert.deepEqual(toNewEvent(started, metadata), { ...started, metadata });
  });

  const bad: Array<[string, { type: string; data: unknown }, RegExp]> = [
    ['an unknown type', { type: 'FileTeleported', data: {} }, /unknown event type FileTeleported/],
    [
      'a missing field',
      { type: 'ServerStarted', data: { ...started.data, pid: undefined } },
      /ServerStarted: .*pid/,
    ],
    ['an extra field', { type: 'ServerStarted', data: { ...started.data, password: 'x' } }, /ServerStarted/],
    [
      'a malformed uuid',
      { type: 'ServerStarted', data: { ...started.data, instanceId: 'nope' } },
      /instanceId/,
    ],
    [
      'a malformed timestamp',
      { type: 'ServerStarted', data: { ...started.data, startedAt: 'yesterday' } },
      /startedAt/,
    ],
    [
      'an oversized string',
      { type: 'ServerStarted', data: { ...started.data, hostname: 'h'.repeat(256) } },
      /hostname/,
    ],
  ];
  for (const [what, event, message] of bad) {
    it(`refuses ${what}`, () => {
      assert.throws(
        () => validateEvent(event),
        (e: unknown) => e instanceof InvalidEvent && message.test(e.message),
      );
    });
  }

  it('reads recorded events of known types and passes over unknown ones', () => {
    const recorded = {
      ...started,
      eventId: '0190b2a0-3333-7000-8000-000000000003',
      metadata,
      streamId: 'server-1',
      streamRevision: 0,
      globalPosition: 1,
      recordedAt: new Date(),
    };
    assert.equal(asDomainEvent(recorded)?.type, 'ServerStarted');
    assert.equal(asDomainEvent({ ...recorded, type: 'SomethingFromTheFuture' }), undefined);
  });
});
