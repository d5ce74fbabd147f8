/**
 * Notifications end to end (docs/notifications.md): notifiers defined over the API are told of
 * exactly the events their filter passes — uploads with OpenSSH's sftp, deletes, failed
 * sign-ins — by a signed webhook to a Python receiver that checks the signature itself, by
 * e-mail through aiosmtpd (STARTTLS and AUTH required) and by syslog to rsyslogd over TCP and TLS. Each message carries
 * its delivery id, as listed by the deliveries API, and the event as JSON. A receiver that
 * keeps failing dead-letters the delivery, which a requeue tries again; bad definitions are
 * refused and change nothing.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSshBatch } from '../support/sftp-clients.js';
import { adminSession, call, startTestSluice, type TestSluice, viewsCaughtUp } from '../support/sluice.js';
import { type SmtpPeer, startSmtpPeer } from '../support/smtp-peer.js';
import { type SyslogPeer, startSyslogPeer } from '../support/syslog-peer.js';
import { makeTestCertificate, type TestCertificate } from '../support/test-certificate.js';
import type { WebhookPeer } from '../support/webhook-peer.js';
import {
  createFolderUser,
  type Delivery,
  defineNotifierWith,
  deliveriesOf,
  QUICK_DELIVERIES,
  settledDeliveries,
  storedSecrets,
  uploadWithSftp,
  webhookNotifierWith,
} from './flow-support.js';

const PASSWORD = 'notify-test-password';
const SMTP_FROM = 'sluice-notices@example.com';
const SMTP_AUTH = { user: 'sluice', pass: 'mail relay p@ss' };
const SD_ID = 'sluice@32473';
const ALL = ['list', 'download', 'upload', 'overwrite', 'delete', 'rename', 'mkdir', 'rmdir'];

interface Notified {
  deliveryId: string;
  notifier: { notifierId: string; name: string };
  event: { type: string; eventId: string; position: number; data: Record<string, unknown> };
}

let t: TestSluice;
let admin: string;
let work: string;
let smtp: SmtpPeer;
let syslog: SyslogPeer;
let certificate: TestCertificate;
const webhooks: WebhookPeer[] = [];

const upload = (user: string, files: Record<string, string>, folder: string) =>
  uploadWithSftp(t.sluice.sftpPort, work, { name: user, password: PASSWORD }, files, folder);

const defineNotifier = (body: Record<string, unknown>) => defineNotifierWith(t.base, admin, body);

async function webhookNotifier(name: string, filter: Record<string, unknown>, pathname = '/hook') {
  const defined = await webhookNotifierWith(t.base, admin, name, filter, pathname);
  webhooks.push(defined.peer);
  return defined;
}

/**
 * The deliveries of `notifierId` once every event so far is in the views (and the deliveries
 * they scheduled with them) and all of them are finished: exactly `count`.
 */
async function notificationsOf(notifierId: string, count: number): Promise<Delivery[]> {
  await viewsCaughtUp(t);
  await viewsCaughtUp(t);
  const done = await settledDeliveries(t.base, admin, `kind=notification&ownerId=${notifierId}`, count);
  assert.equal(done.length, count, JSON.stringify(done));
  return done;
}

async function removeNotifier(notifierId: string): Promise<void> {
  const res = await call(t.base, 'DELETE', `/api/v1/notifiers/${notifierId}`, { token: admin });
  assert.equal(res.status, 204, JSON.stringify(res.body));
  assert.equal(await storedSecrets(t, notifierId), 0, 'a removed notifier keeps no secret');
}

before(async () => {
  certificate = await makeTestCertificate();
  smtp = await startSmtpPeer({ tls: { mode: 'starttls', certificate }, auth: SMTP_AUTH });
  syslog = await startSyslogPeer({ certificate });
  t = await startTestSluice({
    env: {
      ...QUICK_DELIVERIES,
      // STARTTLS required (smtp://), the server's certificate checked against its CA, then AUTH.
      MFT_SMTP_URL: `smtp://${SMTP_AUTH.user}:${encodeURIComponent(SMTP_AUTH.pass)}@localhost:${smtp.port}`,
      MFT_SMTP_FROM: SMTP_FROM,
      MFT_SMTP_CA_FILE: certificate.certFile,
      MFT_SYSLOG_CA_FILE: certificate.certFile,
    },
  });
  admin = await adminSession(t.base);
  work = await mkdtemp(path.join(os.tmpdir(), 'sluice-notify-'));
  for (const userName of ['alice', 'bob']) {
    await createFolderUser(t.base, admin, userName, PASSWORD, ALL);
    const made = await openSshBatch(
      t.sluice.sftpPort,
      userName,
      { password: PASSWORD },
      ['in', 'mail', 'logs', 'fail'].map((folder) => `mkdir ${folder}`),
    );
    assert.equal(made.code, 0, made.stderr);
  }
});

after(async () => {
  for (const peer of webhooks) await peer.stop();
  await t?.stop();
  await smtp?.stop();
  await syslog?.stop();
  if (certificate) await rm(certificate.dir, { recursive: true, force: true });
  if (work) await rm(work, { recursive: true, force: true });
});

describe('notifications', () => {
  it('signs a webhook for each matching event only, with the secret shown once', async () => {
    const { notifierId, peer } = await webhookNotifier('alice csv uploads', {
      operations: ['file.upload'],
      users: ['Alice'],
      paths: ['/in/*.csv'],
    });
    assert.equal(await storedSecrets(t, notifierId), 1);
    const shown = await call(t.base, 'GET', `/api/v1/notifiers/${notifierId}`, { token: admin });
    assert.equal(shown.status, 200);
    assert.equal('signingSecret' in shown.body, false);
    assert.doesNotMatch(JSON.stringify(shown.body), /whsec_/);
    const listed = await call<{ items: unknown[] }>(t.base, 'GET', '/api/v1/notifiers', { token: admin });
    assert.doesNotMatch(JSON.stringify(listed.body), /whsec_/);

    await upload('alice', { 'a.csv': 'id\n1\n', 'b.txt': 'not a csv' }, 'in');
    await upload('bob', { 'c.csv': 'id\n2\n' }, 'in');
    const [delivery] = await notificationsOf(notifierId, 1);
    assert.equal(delivery?.state, 'succeeded', JSON.stringify(delivery));
    assert.equal(delivery?.causeType, 'FileUploaded');
    const all = await deliveriesOf(t.base, admin, 'kind=notification');
    assert.ok(all.some((d) => d.deliveryId === delivery?.deliveryId));

    // Read from the receiver's output, which may lag its answer: waited for, then counted.
    const received = await peer.waitFor(1);
    assert.equal(received.length, 1, JSON.stringify(received));
    const [hook] = received;
    assert.equal(hook?.signature, 'ok', 'the receiver verified the signature with the secret');
    assert.equal(hook?.deliveryId, delivery?.deliveryId);
    assert.equal(hook?.eventType, 'FileUploaded');
    assert.equal(hook?.contentType, 'application/json');
    const body = JSON.parse(hook?.body ?? '') as Notified;
    assert.equal(body.deliveryId, delivery?.deliveryId);
    assert.equal(body.notifier.notifierId, notifierId);
    assert.equal(body.event.type, 'FileUploaded');
    assert.equal(body.event.data.path, '/in/a.csv');
    await removeNotifier(notifierId);
  });

  it('mails matching events through the SMTP server (STARTTLS, AUTH), the delivery id as Message-ID', async () => {
    const defined = await defineNotifier({
      name: 'mail folder',
      filter: { operations: ['file.upload'], outcomes: ['success'], paths: ['/mail/**'] },
      channel: { kind: 'email', to: ['ops@example.com', 'audit@example.com'], subject: 'Sluice: upload' },
    });
    assert.equal(defined.signingSecret, null);
    await upload('bob', { 'report.csv': 'r', 'elsewhere.csv': 'e' }, 'mail');
    await upload('bob', { 'skipped.csv': 's' }, 'in');
    // Both files in /mail pass (** goes any depth); the one in /in does not.
    const both = await notificationsOf(defined.notifierId, 2);
    assert.ok(
      both.every((d) => d.state === 'succeeded'),
      JSON.stringify(both),
    );
    const mails = await smtp.waitFor(2);
    assert.equal(mails.length, 2, JSON.stringify(mails));
    const ids = new Set(both.map((d) => `<${d.deliveryId}@sluice>`));
    for (const mail of mails) {
      assert.ok(ids.has(mail.messageId), `${mail.messageId} is a listed delivery`);
      assert.equal(mail.mailFrom, SMTP_FROM);
      assert.deepEqual(mail.rcptTos, ['ops@example.com', 'audit@example.com']);
      assert.equal(mail.subject, 'Sluice: upload');
      assert.equal(mail.contentType, 'application/json');
      const body = JSON.parse(mail.body) as Notified;
      assert.equal(`<${body.deliveryId}@sluice>`, mail.messageId);
      assert.equal(body.event.type, 'FileUploaded');
    }
    assert.deepEqual(mails.map((m) => (JSON.parse(m.body) as Notified).event.data.path).sort(), [
      '/mail/elsewhere.csv',
      '/mail/report.csv',
    ]);
    await removeNotifier(defined.notifierId);
  });

  it('sends matching events to syslog over TCP and TLS as RFC 5424 with the delivery id', async () => {
    const tcp = await defineNotifier({
      name: 'siem tcp',
      filter: { operations: ['file.upload', 'file.delete'], paths: ['/logs/*'] },
      channel: { kind: 'syslog', host: '127.0.0.1', port: syslog.port, tls: false },
    });
    const tls = await defineNotifier({
      name: 'siem tls',
      filter: { operations: ['file.delete'], users: ['alice'], paths: ['/logs/*'] },
      channel: { kind: 'syslog', host: 'localhost', port: syslog.tlsPort, tls: true },
    });
    await upload('alice', { 'x.log': 'x' }, 'logs');
    const removed = await openSshBatch(t.sluice.sftpPort, 'alice', { password: PASSWORD }, ['rm logs/x.log']);
    assert.equal(removed.code, 0, removed.stderr);
    const byTcp = await notificationsOf(tcp.notifierId, 2);
    const byTls = await notificationsOf(tls.notifierId, 1);
    assert.ok(
      [...byTcp, ...byTls].every((d) => d.state === 'succeeded'),
      JSON.stringify([...byTcp, ...byTls]),
    );
    const messages = await syslog.waitFor(3);
    assert.equal(messages.length, 3, JSON.stringify(messages));
    const sent = new Map([...byTcp, ...byTls].map((d) => [d.deliveryId, d]));
    const seen: Array<[string, string, unknown]> = [];
    for (const message of messages) {
      const sd = message.sd[SD_ID];
      assert.ok(sd, JSON.stringify(message));
      const delivery = sent.get(sd.deliveryId ?? '');
      assert.ok(delivery, `${sd.deliveryId} is a listed delivery`);
      assert.equal(delivery.ownerId, sd.notifier);
      assert.equal(message.appName, 'sluice');
      assert.equal(message.protocolVersion, '1');
      const body = JSON.parse(message.msg.replace(/^\uFEFF/, '')) as Notified;
      assert.equal(body.deliveryId, sd.deliveryId);
      assert.equal(message.msgId, body.event.type);
      assert.equal(String(body.event.position), sd.position);
      seen.push([sd.notifier === tcp.notifierId ? 'tcp' : 'tls', body.event.type, body.event.data.path]);
    }
    assert.deepEqual(seen.sort(), [
      ['tcp', 'FileDeleted', '/logs/x.log'],
      ['tcp', 'FileUploaded', '/logs/x.log'],
      ['tls', 'FileDeleted', '/logs/x.log'],
    ]);
    await removeNotifier(tcp.notifierId);
    await removeNotifier(tls.notifierId);
  });

  it('notifies a failed sign-in (outcome failure), not a successful one', async () => {
    const { notifierId, peer } = await webhookNotifier('bob sign-in failures', {
      operations: ['session.open'],
      outcomes: ['failure'],
      users: ['bob'],
    });
    const signIn = (userName: string, password: string) =>
      call(t.base, 'POST', '/api/v1/sessions/open-immutable', {
        body: { userName, password, applicationId: 1, clientVersion: 'tests' },
      });
    assert.equal((await signIn('bob', 'wrong-password')).status, 401);
    assert.equal((await signIn('alice', 'wrong-password')).status, 401);
    assert.equal((await signIn('bob', PASSWORD)).status, 201);
    const [delivery] = await notificationsOf(notifierId, 1);
    assert.equal(delivery?.state, 'succeeded', JSON.stringify(delivery));
    assert.equal(delivery?.causeType, 'SignInFailed');
    const [hook, ...more] = await peer.waitFor(1);
    assert.deepEqual(more, []);
    assert.equal(hook?.signature, 'ok');
    assert.equal(hook?.deliveryId, delivery?.deliveryId);
    const body = JSON.parse(hook?.body ?? '') as Notified;
    assert.equal(body.event.type, 'SignInFailed');
    assert.equal(body.event.data.userName, 'bob');
    await removeNotifier(notifierId);
  });

  it('retries a receiver answering 500, dead-letters it, and requeues it with the same id', async () => {
    const { notifierId, peer } = await webhookNotifier(
      'broken receiver',
      { operations: ['file.upload'], paths: ['/fail/*'] },
      '/status/500',
    );
    await upload('alice', { 'x.csv': 'x' }, 'fail');
    const [dead] = await notificationsOf(notifierId, 1);
    assert.equal(dead?.state, 'dead', JSON.stringify(dead));
    assert.equal(dead?.attempts, 2, 'retried up to MFT_DELIVERY_MAX_ATTEMPTS');
    assert.match(dead?.lastError ?? '', /500/);
    assert.ok(
      (await deliveriesOf(t.base, admin, 'state=dead')).some((d) => d.deliveryId === dead?.deliveryId),
    );
    assert.deepEqual(
      (await peer.waitFor(2)).map((r) => [r.deliveryId, r.signature]),
      [
        [dead?.deliveryId, 'ok'],
        [dead?.deliveryId, 'ok'],
      ],
    );

    const again = await call<{ position: number }>(
      t.base,
      'POST',
      `/api/v1/deliveries/${dead?.deliveryId}/requeue`,
      { token: admin },
    );
    assert.equal(again.status, 200, JSON.stringify(again.body));
    const [retried] = await settledDeliveries(
      t.base,
      admin,
      `ownerId=${notifierId}&minPosition=${again.body.position}`,
      1,
    );
    assert.equal(retried?.state, 'dead');
    assert.equal(retried?.attempts, 4, 'a requeue grants MFT_DELIVERY_MAX_ATTEMPTS more');
    const copies = await peer.waitFor(4);
    assert.equal(copies.length, 4);
    assert.ok(
      copies.every((c) => c.deliveryId === dead?.deliveryId && c.signature === 'ok'),
      'a retry keeps the id',
    );
    assert.equal(copies[3]?.duplicate, true, 'which lets the receiver drop a copy it accepted');
    await removeNotifier(notifierId);
  });

  it('refuses bad definitions with a clear error and records nothing; only admins define', async () => {
    const hook = { kind: 'webhook', url: 'https://hooks.example.com/sluice' };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: 'n', channel: { kind: 'webhook', url: 'ftp://hooks.example.com/x' } }, 'validation'],
      [{ name: 'n', channel: { kind: 'webhook', url: 'http://[::1' } }, 'invalid-notifier'],
      [
        { name: 'n', channel: { kind: 'webhook', url: 'https://u:p@hooks.example.com/' } },
        'invalid-notifier',
      ],
      [{ name: 'n', channel: { kind: 'email', to: [], subject: 's' } }, 'validation'],
      [{ name: 'n', channel: { kind: 'email', to: ['not-an-address'], subject: 's' } }, 'validation'],
      [
        { name: 'n', channel: { kind: 'email', to: ['ops,audit@example.com'], subject: 's' } },
        'invalid-notifier',
      ],
      [{ name: 'n', channel: { kind: 'sms', to: '+15550100' } }, 'validation'],
      [{ name: 'n', channel: { kind: 'syslog', host: '127.0.0.1', port: 0, tls: false } }, 'validation'],
      [
        { name: 'n', channel: hook, filter: { paths: Array.from({ length: 51 }, (_, i) => `/${i}`) } },
        'validation',
      ],
      [{ name: 'n', channel: hook, filter: { paths: [] } }, 'validation'],
      [{ name: 'n', channel: hook, filter: { outcomes: ['denied'] } }, 'validation'],
      [{ name: 'n', channel: hook, filter: { operations: ['upload'] } }, 'validation'],
      [{ name: 'n', channel: hook, filter: { operations: ['delivery.dead-letter'] } }, 'validation'],
      [{ name: 'n', channel: hook, filter: { operation: ['file.upload'] } }, 'validation'],
      [{ name: 'x'.repeat(101), channel: hook }, 'validation'],
    ];
    await viewsCaughtUp(t);
    const count = async () =>
      (await call<{ items: unknown[] }>(t.base, 'GET', '/api/v1/notifiers?limit=500', { token: admin })).body
        .items.length;
    const defines = async () =>
      (
        await call<{ items: unknown[] }>(
          t.base,
          'GET',
          '/api/v1/audit/events?operation=notifier.define&limit=500',
          {
            token: admin,
          },
        )
      ).body.items.length;
    const [notifiersBefore, definesBefore, secretsBefore] = [
      await count(),
      await defines(),
      await storedSecrets(t),
    ];
    for (const [body, type] of cases) {
      const res = await call<{ type: string; detail?: string }>(t.base, 'POST', '/api/v1/notifiers', {
        token: admin,
        body,
      });
      assert.equal(res.status, 400, `${JSON.stringify(body)} → ${JSON.stringify(res.body)}`);
      assert.match(res.body.type, new RegExp(type), JSON.stringify(res.body));
    }
    await viewsCaughtUp(t);
    assert.equal(await count(), notifiersBefore);
    assert.equal(await defines(), definesBefore);
    assert.equal(await storedSecrets(t), secretsBefore, 'no signing secret was stored for a refused webhook');

    const alice = await call<{ token: string }>(t.base, 'POST', '/api/v1/sessions/open-immutable', {
      body: { userName: 'alice', password: PASSWORD, applicationId: 1, clientVersion: 'tests' },
    });
    assert.equal(alice.status, 201);
    const forbidden = await call(t.base, 'POST', '/api/v1/notifiers', {
      token: alice.body.token,
      body: { name: 'mine', channel: hook },
    });
    assert.equal(forbidden.status, 403);
    assert.equal((await call(t.base, 'GET', '/api/v1/notifiers', { token: alice.body.token })).status, 403);
    const unknown = await call(t.base, 'DELETE', '/api/v1/notifiers/01900000-0000-7000-8000-000000000000', {
      token: admin,
    });
    assert.equal(unknown.status, 404);
  });
});
