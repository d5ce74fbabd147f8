import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { liveness } from '../../../src/domain/sessions/liveness.js';
import { expiresAt, type SessionOpenedData, sessionDecider } from '../../../src/domain/sessions/session.js';
import { slotDecider } from '../../../src/domain/sessions/slot.js';
import { DEFAULT_TICKET_POLICY, ticketRejection } from '../../../src/domain/sessions/ticket-rules.js';
import type { UserState } from '../../../src/domain/users/user.js';
import { specification } from '../../support/decider-spec.js';

const openedAt = new Date('2026-11-29T10:00:00.000Z');
const immutable: SessionOpenedData = {
  sessionId: '0193a000-0000-7000-8000-000000000001',
  userId: 7,
  applicationId: 1000,
  kind: 'immutable',
  method: 'password',
  clientVersion: 'test 1',
  clientIp: '203.0.113.7',
  callerIp: '203.0.113.7',
  userString: null,
  impersonator: null,
  openedAt: openedAt.toISOString(),
  expiresAt: expiresAt('immutable', openedAt),
};
const opened = { type: 'SessionOpened' as const, data: immutable };
const hours = (h: number) => new Date(openedAt.getTime() + h * 3_600_000);

describe('session decider', () => {
  const spec = specification(sessionDecider);
  it('immutable sessions expire 48 hours after opening; replaceable ones never do', () => {
    assert.equal(immutable.expiresAt, '2026-12-01T10:00:00.000Z');
    assert.equal(expiresAt('replaceable', openedAt), null);
  });
  it('opens once', () => {
    spec.given([]).when({ type: 'OpenSession', session: immutable }).thenEmits([opened]);
    spec.given([opened]).when({ type: 'OpenSession', session: immutable }).thenThrows('session-exists');
  });
  it('closes an open session, recording who and when', () => {
    spec
      .given([opened])
      .when({ type: 'CloseSession', sessionId: immutable.sessionId, by: 7, reason: 'closed', now: hours(1) })
      .thenEmits([
        {
          type: 'SessionClosed',
          data: {
            sessionId: immutable.sessionId,
            userId: 7,
            closedBy: 7,
            reason: 'closed',
            closedAt: hours(1).toISOString(),
          },
        },
      ]);
  });
  it('refuses to close an unknown, closed or expired session', () => {
    const closed = {
      type: 'SessionClosed' as const,
      data: {
        sessionId: immutable.sessionId,
        userId: 7,
        closedBy: 7,
        reason: 'closed' as const,
        closedAt: hours(1).toISOString(),
      },
    };
    spec
      .given([])
      .when({ type: 'CloseSession', sessionId: immutable.sessionId, by: 7, reason: 'closed', now: hours(1) })
      .thenThrows('session-unknown');
    spec
      .given([opened, closed])
      .when({ type: 'CloseSession', sessionId: immutable.sessionId, by: 7, reason: 'closed', now: hours(2) })
      .thenThrows('session-ended', { status: 'closed' });
    spec
      .given([opened])
      .when({ type: 'CloseSession', sessionId: immutable.sessionId, by: 7, reason: 'closed', now: hours(48) })
      .thenThrows('session-ended', { status: 'expired' });
  });
  it('expires at 48 hours, at the moment it ran out, and only then', () => {
    spec
      .given([opened])
      .when({ type: 'ExpireSession', sessionId: immutable.sessionId, now: hours(47.99) })
      .thenNothing();
    spec
      .given([opened])
      .when({ type: 'ExpireSession', sessionId: immutable.sessionId, now: hours(50) })
      .thenEmits([
        {
          type: 'SessionExpired',
          data: {
            sessionId: immutable.sessionId,
            userId: 7,
            expiredAt: '2026-12-01T10:00:00.000Z',
            cause: 'lifetime',
          },
        },
      ]);
    const expired = {
      type: 'SessionExpired' as const,
      data: { sessionId: immutable.sessionId, userId: 7, expiredAt: '2026-12-01T10:00:00.000Z' },
    };
    spec
      .given([opened, expired])
      .when({ type: 'ExpireSession', sessionId: immutable.sessionId, now: hours(60) })
      .thenNothing();
  });
  it('a replaceable session with an idle timeout expires that long after its last use, and only then', () => {
    const replaceable: SessionOpenedData = {
      ...immutable,
      kind: 'replaceable',
      expiresAt: null,
      idleTimeoutMs: 1_800_000,
    };
    const given = spec.given([{ type: 'SessionOpened', data: replaceable }]);
    const expire = (now: Date, lastUsedAt?: Date) =>
      given.when({
        type: 'ExpireSession',
        sessionId: immutable.sessionId,
        now,
        ...(lastUsedAt ? { lastUsedAt } : {}),
      });
    expire(hours(10)).thenNothing();
    expire(hours(10), hours(9.6)).thenNothing();
    expire(hours(10), hours(9.5)).thenEmits([
      {
        type: 'SessionExpired',
        data: {
          sessionId: immutable.sessionId,
          userId: 7,
          expiredAt: hours(10).toISOString(),
          cause: 'idle',
        },
      },
    ]);
    // A session without an idle timeout never goes idle.
    spec
      .given([opened])
      .when({ type: 'ExpireSession', sessionId: immutable.sessionId, now: hours(10), lastUsedAt: hours(1) })
      .thenNothing();
  });
});

describe('sign-in slot decider', () => {
  const spec = specification(slotDecider);
  const a = '0193a000-0000-7000-8000-00000000000a';
  const b = '0193a000-0000-7000-8000-00000000000b';
  const claimedA = {
    type: 'SessionSlotClaimed' as const,
    data: {
      slot: 'replaceable' as const,
      userId: 7,
      applicationId: 1000,
      sessionId: a,
      previousSessionId: null,
    },
  };
  it('a first sign-in claims the empty slot', () => {
    spec
      .given([])
      .when({
        type: 'ClaimSlot',
        slot: 'replaceable',
        userId: 7,
        applicationId: 1000,
        sessionId: a,
        holderAlive: false,
      })
      .thenEmits([claimedA]);
  });
  it('the next sign-in replaces the holder, naming the new session', () => {
    spec
      .given([claimedA])
      .when({
        type: 'ClaimSlot',
        slot: 'replaceable',
        userId: 7,
        applicationId: 1000,
        sessionId: b,
        holderAlive: true,
      })
      .thenEmits([
        { type: 'SessionReplaced', data: { sessionId: a, userId: 7, applicationId: 1000, replacedBy: b } },
        {
          type: 'SessionSlotClaimed',
          data: { slot: 'replaceable', userId: 7, applicationId: 1000, sessionId: b, previousSessionId: a },
        },
      ]);
  });
  it('a protocol slot keeps its alive holder and gives up a dead one', () => {
    const claimed = {
      type: 'SessionSlotClaimed' as const,
      data: { slot: 'protocol' as const, userId: 7, applicationId: 3, sessionId: a, previousSessionId: null },
    };
    spec
      .given([claimed])
      .when({
        type: 'ClaimSlot',
        slot: 'protocol',
        userId: 7,
        applicationId: 3,
        sessionId: b,
        holderAlive: true,
      })
      .thenThrows('slot-held', { sessionId: a });
    spec
      .given([claimed])
      .when({
        type: 'ClaimSlot',
        slot: 'protocol',
        userId: 7,
        applicationId: 3,
        sessionId: b,
        holderAlive: false,
      })
      .thenEmits([
        {
          type: 'SessionSlotClaimed',
          data: { slot: 'protocol', userId: 7, applicationId: 3, sessionId: b, previousSessionId: a },
        },
      ]);
  });
});

describe('session liveness', () => {
  const user: UserState = {
    status: 'active',
    userId: 7,
    userName: 'alice',
    emailAddress: 'a@example.com',
    firstName: '',
    lastName: '',
    enabled: true,
    rights: [],
    homeFolder: '/alice',
    permissions: [],
    credentialVersion: 1,
    quotaBytes: null,
    maxFileBytes: null,
    keys: [],
  };
  const open = { status: 'open' as const, session: immutable };
  it('an idle session is not alive, and says so once recorded', () => {
    const replaceable: SessionOpenedData = { ...immutable, expiresAt: null, idleTimeoutMs: 60_000 };
    const idleOpen = { status: 'open' as const, session: replaceable };
    assert.equal(liveness(idleOpen, undefined, user, hours(1), hours(1)).alive, true);
    assert.deepEqual(liveness(idleOpen, undefined, user, hours(1), hours(0.9)), {
      alive: false,
      reason: 'idle',
      session: replaceable,
    });
    const recorded = {
      status: 'expired' as const,
      session: replaceable,
      endedAt: hours(1).toISOString(),
      cause: 'idle' as const,
    };
    assert.equal((liveness(recorded, undefined, user, hours(1)) as { reason: string }).reason, 'idle');
  });
  it('is alive while open, unexpired, and its user active', () => {
    assert.equal(liveness(open, undefined, user, hours(1)).alive, true);
  });
  it('names why it is not', () => {
    assert.deepEqual(liveness({ status: 'none' }, undefined, user, hours(1)), {
      alive: false,
      reason: 'unknown',
    });
    assert.equal(liveness(open, undefined, user, hours(48)).alive === false && 'expired', 'expired');
    const replaceable = {
      status: 'open' as const,
      session: { ...immutable, kind: 'replaceable' as const, expiresAt: null },
    };
    assert.deepEqual(liveness(replaceable, { holder: 'another' }, user, hours(100)), {
      alive: false,
      reason: 'replaced',
      session: replaceable.session,
    });
    assert.equal(liveness(replaceable, { holder: immutable.sessionId }, user, hours(100)).alive, true);
    assert.deepEqual(liveness(open, undefined, { ...user, enabled: false }, hours(1)), {
      alive: false,
      reason: 'user-disabled',
      session: immutable,
    });
    assert.deepEqual(liveness(open, undefined, { status: 'deleted', userId: 7 }, hours(1)), {
      alive: false,
      reason: 'user-deleted',
      session: immutable,
    });
  });
});

describe('ticket rules', () => {
  const now = new Date('2026-11-29T10:00:00Z');
  const at = (seconds: number) => ({ timestamp: new Date(now.getTime() + seconds * 1000), siteName: 'acme' });
  it('accepts a fresh ticket within the clock skew', () => {
    assert.equal(ticketRejection(at(-299), now, DEFAULT_TICKET_POLICY), null);
    assert.equal(ticketRejection(at(-359), now, DEFAULT_TICKET_POLICY), null);
    assert.equal(ticketRejection(at(59), now, DEFAULT_TICKET_POLICY), null);
  });
  it('refuses an old ticket and one from the future', () => {
    assert.equal(ticketRejection(at(-361), now, DEFAULT_TICKET_POLICY), 'ticket-expired');
    assert.equal(ticketRejection(at(61), now, DEFAULT_TICKET_POLICY), 'ticket-expired');
  });
  it('checks the site name only when one is configured', () => {
    assert.equal(ticketRejection(at(0), now, { ...DEFAULT_TICKET_POLICY, siteName: 'acme' }), null);
    assert.equal(
      ticketRejection(at(0), now, { ...DEFAULT_TICKET_POLICY, siteName: 'other' }),
      'ticket-wrong-site',
    );
  });
});
