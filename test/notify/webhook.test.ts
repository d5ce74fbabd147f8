import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { postWebhook } from '../../src/adapters/notify/webhook.js';
import { signWebhook, verifySignature } from '../../src/adapters/notify/webhook-signature.js';
import { freePort } from '../support/free-port.js';
import { expectFailure } from '../support/notification-failure.js';
import { startWebhookPeer, type WebhookPeer } from '../support/webhook-peer.js';

const SECRET = 'whsec-test-0123456789';
const body = { type: 'FileUploaded', path: '/inbox/report é 📄.csv', bytes: 42 };

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

  const send = (path: string, overrides: Parameters<typeof target>[1] = {}, now?: () => Date) =>
    postWebhook(target(path, overrides), { deliveryId: randomUUID(), eventType: 'E', body }, now);
  const lastSignatureAfter = async (before: number) => (await peer.waitFor(before + 1)).at(-1)!.signature;

  it('the receiver detects a wrong secret, and its 401 is not retryable', async () => {
    const before = peer.received().length;
    const failed = send('/hook', { secret: 'not-the-secret' });
    await expectFailure(failed, { code: 'http-status', retryable: false, status: 401 });
    assert.equal(await lastSignatureAfter(before), 'mismatch');
  });

  it('the receiver refuses a request signed more than 5 minutes ago (a replay)', async () => {
    const before = peer.received().length;
    const failed = send('/hook', {}, () => new Date(Date.now() - 600_000));
    await expectFailure(failed, { code: 'http-status', retryable: false, status: 401 });
    assert.equal(await lastSignatureAfter(before), 'too-old');
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
      await expectFailure(send(`/status/${status}`), { code: 'http-status', retryable, status });
    });
  }

  it('a receiver slower than the timeout: retryable timeout', async () => {
    await expectFailure(send('/slow/120000', { timeoutMs: 300 }), { code: 'timeout', retryable: true });
  });

  it('does not follow a redirect, and says so without retrying', async () => {
    const before = peer.received().length;
    await expectFailure(send('/redirect'), { code: 'redirect', retryable: false, status: 302 });
    // Give the receiver a request it must see next: had the redirect been followed, it would come first.
    await send('/after-redirect');
    const paths = (await peer.waitFor(before + 2)).slice(before).map((r) => r.path);
    assert.deepEqual(paths, ['/redirect', '/after-redirect']);
  });

  it('refuses bad configuration and bad ids before sending anything', async () => {
    const before = peer.received().length;
    const id = randomUUID();
    const cases: Array<[Parameters<typeof postWebhook>[0], Parameters<typeof postWebhook>[1], string]> = [
      [{ ...target(), url: 'not a url' }, { deliveryId: id, eventType: 'E', body }, 'bad-config'],
      [{ ...target(), url: 'ftp://127.0.0.1/x' }, { deliveryId: id, eventType: 'E', body }, 'bad-config'],
      [{ ...target(), secret: '' }, { deliveryId: id, eventType: 'E', body }, 'bad-config'],
      [
        { ...target(), url: target().url.replace('//', '//u:p@') },
        { deliveryId: id, eventType: 'E', body },
        'bad-config',
      ],
      [{ ...target(), timeoutMs: 0 }, { deliveryId: id, eventType: 'E', body }, 'bad-config'],
      [target(), { deliveryId: 'not-a-uuid', eventType: 'E', body }, 'bad-message'],
      [target(), { deliveryId: id, eventType: 'Bad\r\nHeader: x', body }, 'bad-message'],
      [target(), { deliveryId: id, eventType: 'E', body: undefined }, 'bad-message'],
    ];
    for (const [t, d, code] of cases) {
      await expectFailure(postWebhook(t, d), { code, retryable: false }, JSON.stringify([t, d]));
    }
    // A marker request proves nothing arrived in between.
    await send('/marker');
    assert.deepEqual(
      (await peer.waitFor(before + 1)).slice(before).map((r) => r.path),
      ['/marker'],
    );
  });
});

describe('webhook sender without a receiver', () => {
  it('a refused connection is retryable', async () => {
    const port = await freePort();
    const failed = postWebhook(
      { url: `http://127.0.0.1:${port}/hook`, secret: SECRET, timeoutMs: 10_000 },
      { deliveryId: randomUUID(), eventType: 'E', body },
    );
    await expectFailure(failed, { code: 'network', retryable: true });
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
