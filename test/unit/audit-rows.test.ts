/**
 * Which events the audit view has rows for: every type of the catalogue is either mapped
 * (src/projections/audit/rows.ts, and then handled by the projection) or named as not audited
 * with its reason, never both, so a new event type forces a decision. The rows themselves are
 * checked by test/audit and the API's audit tests.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  type DomainEvent,
  eventTypes,
  type RecordedDomainEvent,
  validateEvent,
} from '../../src/domain/events/catalogue.js';
import { auditedEventTypes, auditRow, unauditedEventTypes } from '../../src/projections/audit/rows.js';
import { auditProjection } from '../../src/projections/audit/write.js';

const recorded = (event: DomainEvent): RecordedDomainEvent =>
  ({
    ...validateEvent(event),
    eventId: randomUUID(),
    metadata: {
      envelopeVersion: 1,
      correlationId: randomUUID(),
      actor: { userId: 7, clientIp: '192.0.2.1' },
    },
    streamId: 'test-1',
    streamRevision: 0,
    globalPosition: 1,
    recordedAt: new Date('2026-12-02T12:00:00.000Z'),
  }) as RecordedDomainEvent;

const sessionId = '0190b2a0-1111-7000-8000-000000000001';

/** One event of each type that is not audited. */
const unaudited: DomainEvent[] = [
  { type: 'UserIdAllocated', data: { userId: 7 } },
  { type: 'UniqueValueReserved', data: { scope: 'userName', value: 'ann', userId: 7 } },
  { type: 'UniqueValueReleased', data: { scope: 'emailAddress', value: 'ann@example.com', userId: 7 } },
  {
    type: 'SessionSlotClaimed',
    data: { slot: 'replaceable', userId: 7, applicationId: 1, sessionId, previousSessionId: null },
  },
  { type: 'TicketRedeemed', data: { ticketDigest: 'a'.repeat(64), applicationId: 1, userId: null } },
];

describe('the audit mapping', () => {
  it('maps or deliberately leaves out every event type of the catalogue, never both', () => {
    const left = Object.keys(unauditedEventTypes);
    for (const type of eventTypes) {
      const mapped = (auditedEventTypes as string[]).includes(type);
      assert.notEqual(mapped, left.includes(type), `${type}: mapped in rows.ts or listed as not audited`);
    }
    assert.equal(auditedEventTypes.length + left.length, eventTypes.length);
    for (const [type, reason] of Object.entries(unauditedEventTypes))
      assert.ok(reason.length > 0, `${type} needs its reason`);
  });

  it('is what the audit projection handles', () => {
    assert.deepEqual([...auditProjection.handles].sort(), [...auditedEventTypes].sort());
  });

  it('gives no row for the types it leaves out, and a row for a mapped one', () => {
    assert.deepEqual(unaudited.map((e) => e.type).sort(), Object.keys(unauditedEventTypes).sort());
    for (const event of unaudited) assert.equal(auditRow(recorded(event)), undefined, event.type);
    const row = auditRow(recorded({ type: 'UserDisabled', data: { userId: 9, changedBy: 7 } }));
    assert.equal(row?.operation, 'user.disable');
    assert.equal(row?.target, 'user:9');
    assert.equal(row?.user_id, 7);
  });
});
