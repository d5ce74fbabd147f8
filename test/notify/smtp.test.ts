import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { NotificationError } from '../../src/adapters/notify/notification-error.js';
import { createSmtpSender, type MailDelivery, type SmtpConfig } from '../../src/adapters/notify/smtp.js';
import { freePort } from '../support/free-port.js';
import { expectFailure } from '../support/notification-failure.js';
import { type SmtpPeer, startSmtpPeer } from '../support/smtp-peer.js';
import { makeTestCertificate, type TestCertificate } from '../support/test-certificate.js';

const body = { type: 'FileUploaded', path: '/inbox/rapport é.csv', bytes: 42, nested: { ok: true } };

const plain = (port: number, extra: Partial<SmtpConfig> = {}): SmtpConfig => ({
  host: '127.0.0.1',
  port,
  secure: false,
  requireTls: false,
  from: 'sluice@example.com',
  ...extra,
});

/** Sends each delivery in turn with one sender for `config`, closing it after; the results in order. */
async function sendAll(config: SmtpConfig, deliveries: MailDelivery[]) {
  const sender = createSmtpSender(config);
  try {
    const results = [];
    for (const delivery of deliveries) results.push(await sender.send(delivery));
    return results;
  } finally {
    sender.close();
  }
}

/** One mail with a fresh delivery id. */
const mail = (to: string[], extra: Partial<MailDelivery> = {}): MailDelivery => ({
  deliveryId: randomUUID(),
  to,
  subject: 's',
  body,
  ...extra,
});

describe('SMTP sender against aiosmtpd', () => {
  let peer: SmtpPeer;
  before(async () => {
    peer = await startSmtpPeer();
  });
  after(() => peer.stop());

  it('sends the notification as one pretty JSON part, Message-ID from the delivery id', async () => {
    const before = peer.received().length;
    const delivery = mail(['ops@example.com', 'audit@example.org'], {
      subject: 'Sluice: FileUploaded /inbox/rapport é.csv',
    });
    const [result] = await sendAll(plain(peer.port), [delivery]);
    assert.deepEqual(result, {
      messageId: `<${delivery.deliveryId}@sluice>`,
      accepted: ['ops@example.com', 'audit@example.org'],
      rejected: [],
    });
    const got = (await peer.waitFor(before + 1)).at(-1)!;
    assert.equal(got.mailFrom, 'sluice@example.com');
    assert.deepEqual(got.rcptTos, ['ops@example.com', 'audit@example.org']);
    assert.equal(got.subject, 'Sluice: FileUploaded /inbox/rapport é.csv');
    assert.equal(got.messageId, `<${delivery.deliveryId}@sluice>`);
    assert.equal(got.headers['Sluice-Delivery'], delivery.deliveryId);
    assert.equal(got.contentType, 'application/json');
    assert.deepEqual(JSON.parse(got.body), body);
    assert.equal(got.body, `${JSON.stringify(body, null, 2)}\n`);
  });

  it('a redelivery carries the same Message-ID', async () => {
    const before = peer.received().length;
    const delivery = mail(['ops@example.com']);
    await sendAll(plain(peer.port), [delivery, delivery]);
    const [a, b] = (await peer.waitFor(before + 2)).slice(before);
    assert.equal(a!.messageId, `<${delivery.deliveryId}@sluice>`);
    assert.equal(b!.messageId, a!.messageId);
  });

  it('every recipient refused: 5xx not retryable, 4xx retryable', async () => {
    await expectFailure(sendAll(plain(peer.port), [mail(['refuse@example.com'])]), {
      code: 'recipients-rejected',
      retryable: false,
      status: 550,
    });
    await expectFailure(sendAll(plain(peer.port), [mail(['later@example.com'])]), {
      code: 'recipients-rejected',
      retryable: true,
      status: 451,
    });
  });

  it('some recipients refused: sent to the others, the refused ones listed', async () => {
    const before = peer.received().length;
    const [result] = await sendAll(plain(peer.port), [mail(['ops@example.com', 'refuse@example.com'])]);
    assert.deepEqual(result!.accepted, ['ops@example.com']);
    assert.deepEqual(result!.rejected, ['refuse@example.com']);
    assert.deepEqual((await peer.waitFor(before + 1)).at(-1)!.rcptTos, ['ops@example.com']);
  });

  it('refuses bad configuration and bad messages before connecting', async () => {
    for (const config of [plain(0), plain(peer.port, { host: '' }), plain(peer.port, { from: 'a, b@c' })]) {
      assert.throws(
        () => createSmtpSender(config),
        (e: unknown) => e instanceof NotificationError && e.code === 'bad-config' && !e.retryable,
      );
    }
    const before = peer.received().length;
    for (const delivery of [
      mail(['ops@example.com'], { deliveryId: 'x' }),
      mail([]),
      mail(['ops@example.com, evil@example.com']),
      mail(['Ops <ops@example.com>']),
      mail(['ops@example.com'], { subject: 'a\r\nBcc: evil@example.com' }),
      mail(['ops@example.com'], { body: undefined }),
    ]) {
      await expectFailure(
        sendAll(plain(peer.port), [delivery]),
        { code: 'bad-message', retryable: false },
        JSON.stringify(delivery),
      );
    }
    await sendAll(plain(peer.port), [mail(['marker@example.com'], { subject: 'marker' })]);
    assert.deepEqual(
      (await peer.waitFor(before + 1)).slice(before).map((m) => m.subject),
      ['marker'],
    );
  });

  it('STARTTLS required but not offered: refused as configuration, nothing sent', async () => {
    const before = peer.received().length;
    await expectFailure(sendAll(plain(peer.port, { requireTls: true }), [mail(['ops@example.com'])]), {
      code: 'tls',
      retryable: false,
    });
    assert.equal(peer.received().length, before);
  });
});

describe('SMTP sender with TLS and AUTH', () => {
  let certificate: TestCertificate;
  let starttls: SmtpPeer;
  let implicit: SmtpPeer;
  const auth = { user: 'sluice', pass: 'p4ss-word' };
  before(async () => {
    certificate = await makeTestCertificate();
    starttls = await startSmtpPeer({ tls: { mode: 'starttls', certificate }, auth });
    implicit = await startSmtpPeer({ tls: { mode: 'implicit', certificate } });
  });
  after(async () => {
    await starttls.stop();
    await implicit.stop();
  });
  const overStartTls = (extra: Partial<SmtpConfig>) =>
    plain(starttls.port, {
      host: 'localhost',
      requireTls: true,
      auth,
      tls: { ca: certificate.cert },
      ...extra,
    });

  it('STARTTLS with the peer trusted by its CA, then AUTH; and implicit TLS', async () => {
    const [viaStartTls] = await sendAll(overStartTls({}), [mail(['ops@example.com'])]);
    assert.equal((await starttls.waitFor(1)).at(-1)!.messageId, viaStartTls!.messageId);
    const [viaImplicit] = await sendAll(
      plain(implicit.port, { host: 'localhost', secure: true, tls: { ca: certificate.cert } }),
      [mail(['ops@example.com'])],
    );
    assert.equal((await implicit.waitFor(1)).at(-1)!.messageId, viaImplicit!.messageId);
  });

  it('a wrong password: not retryable', async () => {
    await expectFailure(
      sendAll(overStartTls({ auth: { user: 'sluice', pass: 'wrong' } }), [mail(['ops@example.com'])]),
      { code: 'smtp-reply', retryable: false, status: 535 },
    );
  });

  it('a certificate not trusted: refused as configuration, not retried', async () => {
    await expectFailure(sendAll(overStartTls({ tls: undefined }), [mail(['ops@example.com'])]), {
      code: 'tls',
      retryable: false,
    });
  });
});

describe('SMTP sender without a server', () => {
  it('a refused connection is retryable', async () => {
    await expectFailure(sendAll(plain(await freePort()), [mail(['ops@example.com'])]), {
      code: 'network',
      retryable: true,
    });
  });
});
