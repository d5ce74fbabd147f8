import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { NotificationError } from '../../src/adapters/notify/notification-error.js';
import { postWebhook } from '../../src/adapters/notify/webhook.js';
import { signWebhook, verifySignature } from '../../src/adapters/notify/webhook-signature.js';
import { freePort } from '../support/free-port.js';
import { startWebhookPeer, type WebhookPeer } from '../support/webhook-peer.js';

const SECRET = 'whsec-test-0123456789';
const body = { type: 'FileUploaded', path: '/inbox/report é 📄.csv', bytes: 42 };

async function failure(promise: Promise<unknown>): Promise<NotificationError> {
  const error = await promise.then(
    () => assert.fail('expected a NotificationError'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof NotificationError, String(error));
  return error;
}

describe('webhook sender against a Python receiver', () => {
  let peer: WebhookPeer;
  before(async () => {
    peer = await startWebhookPeer(SECRET);
  });
  after(() => peer.stop());

  const target = (path?: string, overrides: { secret?: string; timeoutMs?: number } = {}) => ({
    url: peer.url(path),
    secret: overrides.secret ?? SECRET,
    timeoutMs: overrides.timeoutMs ?? 10_000,
  });

  it('posts signed JSON that the receiver verifies itself, with the delivery id and event type', async () => {
    const deliveryId = randomUUID();
    const before = peer.received().length;
    const result = await postWebhook(target('/hook'), { deliveryId, eventType: 'FileUploaded', body });
    assert.deepEqual(result, { status: 200 });
    const got = (await peer.waitFor(before + 1)).at(-1)!;
    assert.equal(got.path, '/hook');
    assert.equal(got.signature, 'ok');
    assert.equal(got.deliveryId, deliveryId);
    assert.equal(got.eventType, 'FileUploaded');
    assert.equal(got.contentType, 'application/json');
    assert.deepEqual(JSON.parse(got.body), body);
    assert.equal(got.duplicate, false);
    // The TypeScript verifier agrees with the Python one on the bytes as received.
    const check = verifySignature(SECRET, got.signatureHeader!, got.body, new Date());
    assert.equal(check.ok, true);
  });

  it('carries the same delivery id on a redelivery, which the receiver can drop', async () => {
    const deliveryId = randomUUID();
    const before = peer.received().length;
    await postWebhook(target(), { deliveryId, eventType: 'FileUploaded', body });
    await postWebhook(target(), { deliveryId, eventType: 'FileUploaded', body });
    const [first, second] = (await peer.waitFor(before + 2)).slice(before);
    assert.equal(first!.duplicate, false);
    assert.equal(second!.duplicate, true);
    assert.equal(second!.deliveryId, deliveryId);
  });

  it('the receiver detects a wrong secret, and its 401 is not retryable', async () => {
    const before = peer.received().length;
    const error = await failure(
      postWebhook(target('/hook', { secret: 'not-the-secret' }), {
        deliveryId: randomUUID(),
        eventType: 'FileUploaded',
        body,
      }),
    );
    assert.equal((await peer.waitFor(before + 1)).at(-1)!.signature, 'mismatch');
    assert.equal(error.code, 'http-status');
    assert.equal(error.status, 401);
    assert.equal(error.retryable, false);
  });

  it('the receiver refuses a request signed more than 5 minutes ago (a replay)', async () => {
    const before = peer.received().length;
    const tenMinutesAgo = () => new Date(Date.now() - 600_000);
    const error = await failure(
      postWebhook(target(), { deliveryId: randomUUID(), eventType: 'E', body }, tenMinutesAgo),
    );
    assert.equal((await peer.waitFor(before + 1)).at(-1)!.signature, 'too-old');
    assert.equal(error.status, 401);
    assert.equal(error.retryable, false);
  });

  for (const [status, retryable] of [
    [500, true],
    [503, true],
    [429, true],
    [408, true],
    [400, false],
    [404, false],
    [410, false],
  ] as const) {
    it(`answers ${status}: ${retryable ? 'retryable' : 'not retryable'}`, async () => {
      const error = await failure(
        postWebhook(target(`/status/${status}`), { deliveryId: randomUUID(), eventType: 'E', body }),
      );
      assert.equal(error.code, 'http-status');
      assert.equal(error.status, status);
      assert.equal(error.retryable, retryable);
    });
  }

  it('a receiver slower than the timeout: retryable timeout', async () => {
    const error = await failure(
      postWebhook(target('/slow/120000', { timeoutMs: 300 }), {
        deliveryId: randomUUID(),
        eventType: 'E',
        body,
      }),
    );
    assert.equal(error.code, 'timeout');
    assert.equal(error.retryable, true);
  });

  it('does not follow a redirect, and says so without retrying', async () => {
    const before = peer.received().length;
    const error = await failure(
      postWebhook(target('/redirect'), { deliveryId: randomUUID(), eventType: 'E', body }),
    );
    assert.equal(error.code, 'redirect');
    assert.equal(error.status, 302);
    assert.equal(error.retryable, false);
    // Give the receiver a request it must see next: had the redirect been followed, it would come first.
    await postWebhook(target('/after-redirect'), { deliveryId: randomUUID(), eventType: 'E', body });
    const paths = (await peer.waitFor(before + 2)).slice(before).map((r) => r.path);
    assert.deepEqual(paths, ['/redirect', '/after-redirect']);
  });

  it('refuses bad configuration and bad ids before sending anything', async () => {
    const before = peer.received().length;
    const cases = [
      {
        t: { ...target(), url: 'not a url' },
        d: { deliveryId: randomUUID(), eventType: 'E' },
        code: 'bad-config',
      },
      {
        t: { ...target(), url: 'ftp://127.0.0.1/x' },
        d: { deliveryId: randomUUID(), eventType: 'E' },
        code: 'bad-config',
      },
      { t: { ...target(), secret: '' }, d: { deliveryId: randomUUID(), eventType: 'E' }, code: 'bad-config' },
      {
        t: { ...target(), timeoutMs: 0 },
        d: { deliveryId: randomUUID(), eventType: 'E' },
        code: 'bad-config',
      },
      { t: target(), d: { deliveryId: 'not-a-uuid', eventType: 'E' }, code: 'bad-message' },
      { t: target(), d: { deliveryId: randomUUID(), eventType: 'Bad\r\nHeader: x' }, code: 'bad-message' },
    ];
    for (const c of cases) {
      const error = await failure(postWebhook(c.t, { ...c.d, body }));
      assert.equal(error.code, c.code, JSON.stringify(c));
      assert.equal(error.retryable, false);
    }
    const unserialisable = await failure(
      postWebhook(target(), { deliveryId: randomUUID(), eventType: 'E', body: undefined }),
    );
    assert.equal(unserialisable.code, 'bad-message');
    // A marker request proves nothing arrived in between.
    await postWebhook(target('/marker'), { deliveryId: randomUUID(), eventType: 'E', body });
    assert.deepEqual(
      (await peer.waitFor(before + 1)).slice(before).map((r) => r.path),
      ['/marker'],
    );
  });
});

describe('webhook sender without a receiver', () => {
  it('a refused connection is retryable', async () => {
    const port = await freePort();
    const error = await failure(
      postWebhook(
        { url: `http://127.0.0.1:${port}/hook`, secret: SECRET, timeoutMs: 10_000 },
        { deliveryId: randomUUID(), eventType: 'E', body },
      ),
    );
    assert.equal(error.code, 'network');
    assert.equal(error.retryable, true);
  });
});

describe('webhook signature', () => {
  const raw = JSON.stringify(body);
  const t = 1_800_000_000;
  const at = (seconds: number) => new Date(seconds * 1000);

  it('verifies what it signed, within the tolerance either way', () => {
    const header = signWebhook(SECRET, t, raw);
    assert.match(header, /^t=1800000000,v1=[0-9a-f]{64}$/);
    assert.deepEqual(verifySignature(SECRET, header, raw, at(t)), { ok: true, timestamp: t });
    assert.equal(verifySignature(SECRET, header, Buffer.from(raw), at(t + 300)).ok, true);
    assert.equal(verifySignature(SECRET, header, raw, at(t - 300)).ok, true);
  });

  it('refuses a replay older than the tolerance, and a timestamp too far ahead', () => {
    const header = signWebhook(SECRET, t, raw);
    assert.deepEqual(verifySignature(SECRET, header, raw, at(t + 301)), { ok: false, reason: 'too-old' });
    assert.deepEqual(verifySignature(SECRET, header, raw, at(t - 301)), { ok: false, reason: 'in-future' });
  });

  it('refuses a changed body, a changed timestamp and a wrong secret', () => {
    const header = signWebhook(SECRET, t, raw);
    assert.equal(verifySignature(SECRET, header, `${raw} `, at(t)).ok, false);
    assert.equal(verifySignature('other', header, raw, at(t)).ok, false);
    const moved = header.replace(`t=${t}`, `t=${t + 1}`);
    assert.deepEqual(verifySignature(SECRET, moved, raw, at(t)), { ok: false, reason: 'mismatch' });
  });

  it('accepts any one valid v1 entry (secret rotation)', () => {
    const old = signWebhook('old-secret', t, raw).split(',')[1];
    const header = `${signWebhook(SECRET, t, raw)},${old}`;
    assert.equal(verifySignature('old-secret', header, raw, at(t)).ok, true);
    assert.equal(verifySignature(SECRET, header, raw, at(t)).ok, true);
  });

  it('refuses malformed headers', () => {
    for (const header of ['', 'v1=00', `t=${t}`, `t=abc,v1=${'0'.repeat(64)}`, 'garbage', `t=${t},v1=zz`]) {
      assert.deepEqual(
        verifySignature(SECRET, header, raw, at(t)),
        { ok: false, reason: 'malformed' },
        header,
      );
    }
    assert.throws(() => signWebhook(SECRET, 1.5, raw), RangeError);
  });
});
