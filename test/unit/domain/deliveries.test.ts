/** The delivery decider (given/when/then), the back-off, delivery ids, and what an upload means to a flow. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DeliveryEvent, deliveryDecider } from '../../../src/domain/deliveries/delivery.js';
import { deliveryIdOf } from '../../../src/domain/deliveries/delivery-id.js';
import { retryAt } from '../../../src/domain/deliveries/retry-policy.js';
import type { FlowDefinition } from '../../../src/domain/flows/flow.js';
import { flowDecider } from '../../../src/domain/flows/flow.js';
import { roleOf, targetPath } from '../../../src/domain/flows/flow-rules.js';
import { type NotifierDefinition, notifierDecider } from '../../../src/domain/flows/notifier.js';
import { specification } from '../../support/decider-spec.js';

const spec = specification(deliveryDecider);
const id = '01900000-0000-7000-8000-0000000000aa';
const policy = { maxAttempts: 3, initialMs: 1000, maxMs: 4000 };
const now = new Date('2026-12-02T10:00:00.000Z');
const later = (ms: number) => new Date(now.getTime() + ms);
const scheduled: DeliveryEvent = {
  type: 'DeliveryScheduled',
  data: {
    deliveryId: id,
    kind: 'flow',
    ownerId: 'flow-1',
    cause: { eventId: '01900000-0000-7000-8000-0000000000bb', position: 7, type: 'FileUploaded' },
    file: null,
  },
};
const attempted = (attempt: number, at = now): DeliveryEvent => ({
  type: 'DeliveryAttempted',
  data: { deliveryId: id, attempt, leaseUntil: new Date(at.getTime() + 60_000).toISOString() },
});
const failed = (attempt: number, retry: Date | null, retryable = true): DeliveryEvent => ({
  type: 'DeliveryAttemptFailed',
  data: { deliveryId: id, attempt, error: 'boom', retryable, retryAt: retry?.toISOString() ?? null },
});
const claim = (at = now) => ({ type: 'Claim' as const, deliveryId: id, now: at, leaseMs: 60_000, policy });
const fail = (attempt: number, retryable = true) => ({
  type: 'Fail' as const,
  deliveryId: id,
  attempt,
  error: 'boom',
  retryable,
  now,
  policy,
});

describe('delivery decider', () => {
  it('schedules once: scheduling again (a replay) records nothing', () => {
    spec
      .given([])
      .when({ type: 'Schedule', delivery: scheduled.data as never })
      .thenEmits([scheduled]);
    spec
      .given([scheduled])
      .when({ type: 'Schedule', delivery: scheduled.data as never })
      .thenNothing();
  });
  it('claims an attempt; a second claimant is refused while the lease runs', () => {
    spec
      .given([scheduled])
      .when(claim())
      .thenEmits([attempted(1)]);
    spec
      .given([scheduled, attempted(1)])
      .when(claim(later(59_000)))
      .thenThrows('delivery-busy');
  });
  it('records an attempt past its lease as abandoned before the next', () => {
    spec
      .given([scheduled, attempted(1)])
      .when(claim(later(61_000)))
      .thenEmits([
        {
          type: 'DeliveryAttemptFailed',
          data: {
            deliveryId: id,
            attempt: 1,
            error: 'abandoned: the attempt outlived its lease (its process stopped)',
            retryable: true,
            retryAt: later(61_000 + 1000).toISOString(),
          },
        },
        attempted(2, later(61_000)),
      ]);
  });
  it('backs off between retryable failures, then dead-letters', () => {
    spec
      .given([scheduled, attempted(1)])
      .when(fail(1))
      .thenEmits([failed(1, later(1000))]);
    spec
      .given([scheduled, attempted(1), failed(1, later(1000))])
      .when(claim())
      .thenThrows('delivery-not-due');
    spec
      .given([
        scheduled,
        attempted(1),
        failed(1, later(1000)),
        attempted(2),
        failed(2, later(2000)),
        attempted(3),
      ])
      .when(fail(3))
      .thenEmits([
        failed(3, null),
        {
          type: 'DeliveryDeadLettered',
          data: { deliveryId: id, attempts: 3, reason: 'gave up after 3 attempts: boom' },
        },
      ]);
  });
  it('dead-letters at once what cannot be retried', () => {
    spec
      .given([scheduled, attempted(1)])
      .when(fail(1, false))
      .thenEmits([
        failed(1, null, false),
        { type: 'DeliveryDeadLettered', data: { deliveryId: id, attempts: 1, reason: 'boom' } },
      ]);
  });
  it('takes the outcome of the current attempt only', () => {
    spec
      .given([scheduled, attempted(1), failed(1, later(1000)), attempted(2)])
      .when({ type: 'Succeed', deliveryId: id, attempt: 1, result: 'late' })
      .thenThrows('attempt-not-current');
  });
  it('requeues a dead letter only, with the policy’s attempts again', () => {
    const dead: DeliveryEvent = {
      type: 'DeliveryDeadLettered',
      data: { deliveryId: id, attempts: 1, reason: 'x' },
    };
    spec
      .given([scheduled, attempted(1)])
      .when({ type: 'Requeue', deliveryId: id })
      .thenThrows('delivery-not-dead');
    const history = [
      scheduled,
      attempted(1),
      failed(1, null, false),
      dead,
      { type: 'DeliveryRequeued', data: { deliveryId: id } } as DeliveryEvent,
    ];
    spec
      .given(history)
      .when(claim())
      .thenEmits([attempted(2)]);
    // Attempt 2 of the new budget of 3 fails retryably: it is retried, not dead-lettered.
    spec
      .given([...history, attempted(2)])
      .when(fail(2))
      .thenEmits([failed(2, later(2000))]);
  });
  it('knows no delivery that was never scheduled', () => {
    spec.given([]).when(claim()).thenThrows('delivery-not-found');
  });
});

describe('back-off and ids', () => {
  it('doubles from the initial delay up to the cap', () => {
    assert.deepEqual(
      [1, 2, 3, 4].map((a) => retryAt(policy, a, now).getTime() - now.getTime()),
      [1000, 2000, 4000, 4000],
    );
  });
  it('derives the same UUID from the same cause, a different one otherwise', () => {
    const a = deliveryIdOf('flow', 'f1', 'e1');
    assert.equal(a, deliveryIdOf('flow', 'f1', 'e1'));
    assert.notEqual(a, deliveryIdOf('flow', 'f1', 'e2'));
    assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('flows', () => {
  const flow: FlowDefinition = {
    flowId: '01900000-0000-7000-8000-0000000000cc',
    name: 'f',
    sourceUserId: 1,
    sourceFolder: '/in',
    match: { kind: 'glob', pattern: '*.csv' },
    trigger: null,
    target: { kind: 'user', userId: 2, folder: '/out' },
    keepSource: false,
  };
  it('takes matching files of its folder only', () => {
    assert.deepEqual(roleOf(flow, '/in/a.csv'), { role: 'file' });
    assert.deepEqual(roleOf(flow, '/in/sub/a.csv'), { role: 'ignored' }, '* stays in the folder');
    assert.deepEqual(roleOf({ ...flow, match: { kind: 'glob', pattern: '**/*.csv' } }, '/in/sub/a.csv'), {
      role: 'file',
    });
    assert.deepEqual(roleOf(flow, '/inbox/a.csv'), { role: 'ignored' }, 'a folder of a similar name');
    assert.deepEqual(roleOf(flow, '/in/a.txt'), { role: 'ignored' });
    assert.equal(targetPath(flow, '/in/sub/a.csv', '/out'), '/out/sub/a.csv');
    assert.equal(targetPath(flow, '/in/a.csv', '/'), '/a.csv');
  });
  it('knows trigger files: named ones release one file, batch ones their folder', () => {
    const named = { ...flow, trigger: { suffix: '.done', releases: 'named' as const } };
    assert.deepEqual(roleOf(named, '/in/a.csv.done'), { role: 'trigger', released: '/in/a.csv' });
    assert.deepEqual(roleOf(named, '/in/.done'), { role: 'ignored' }, 'a trigger names a file');
    const batch = { ...flow, trigger: { suffix: '.trg', releases: 'batch' as const } };
    assert.deepEqual(roleOf(batch, '/in/go.trg'), { role: 'trigger', folder: '/in' });
  });
  it('refuses a flow to the same user, a bad regex, a folder outside the root', () => {
    const define = (f: FlowDefinition) =>
      specification(flowDecider).given([]).when({ type: 'DefineFlow', flow: f });
    define({ ...flow, target: { kind: 'user', userId: 1, folder: '/x' } }).thenThrows('invalid-flow');
    define({ ...flow, match: { kind: 'regex', pattern: '(' } }).thenThrows('invalid-flow');
    define({ ...flow, sourceFolder: '/../x' }).thenThrows('invalid-flow');
    define({ ...flow, sourceFolder: '/in/./' }).thenEmits([
      { type: 'FlowDefined', data: { ...flow, sourceFolder: '/in' } },
    ]);
  });
});

describe('notifiers', () => {
  const notifier: NotifierDefinition = {
    notifierId: '01900000-0000-7000-8000-0000000000dd',
    name: 'n',
    filter: {},
    channel: { kind: 'webhook', url: 'https://hooks.example.com/sluice?x=1' },
  };
  const define = (n: NotifierDefinition) =>
    specification(notifierDecider).given([]).when({ type: 'DefineNotifier', notifier: n });
  it('refuses a webhook URL its sender would refuse: not a URL, not http(s), holding credentials', () => {
    for (const url of ['http://[::1', 'ftps://hooks.example.com/x', 'https://user:pass@hooks.example.com/x'])
      define({ ...notifier, channel: { kind: 'webhook', url } }).thenThrows('invalid-notifier');
    define(notifier).thenEmits([{ type: 'NotifierDefined', data: notifier }]);
  });
  it('refuses an e-mail recipient the SMTP sender would refuse: a list, a display name', () => {
    for (const to of [['ops,audit@example.com'], ['ops@example.com', 'Ops<ops@example.com>']])
      define({ ...notifier, channel: { kind: 'email', to, subject: 's' } }).thenThrows('invalid-notifier');
  });
});
