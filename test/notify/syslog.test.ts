import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { NotificationError } from '../../src/adapters/notify/notification-error.js';
import {
  createSyslogSender,
  type SyslogConfig,
  type SyslogDelivery,
  type SyslogSender,
} from '../../src/adapters/notify/syslog.js';
import { freePort } from '../support/free-port.js';
import { expectFailure } from '../support/notification-failure.js';
import { type SyslogPeer, startSyslogPeer } from '../support/syslog-peer.js';
import { makeTestCertificate, type TestCertificate } from '../support/test-certificate.js';

const BOM = '\ufeff';
const config = (port: number, extra: Partial<SyslogConfig> = {}): SyslogConfig => ({
  host: '127.0.0.1',
  port,
  appName: 'sluice',
  hostname: 'mft1.example.com',
  facility: 'local3',
  ...extra,
});
const delivery = (extra: Partial<SyslogDelivery> = {}): SyslogDelivery => ({
  deliveryId: randomUUID(),
  severity: 'notice',
  msgId: 'FileUploaded',
  timestamp: new Date('2026-12-02T17:30:00.123Z'),
  structuredData: { user: 'alice', path: '/inbox/q"1\\2]3 é.csv' },
  message: 'alice uploaded /inbox/q"1\\2]3 é.csv (42 bytes)',
  ...extra,
});

/** Runs `use` with a sender for `cfg`, closing it after. */
async function withSender(cfg: SyslogConfig, use: (sender: SyslogSender) => Promise<unknown>): Promise<void> {
  const sender = createSyslogSender(cfg);
  try {
    await use(sender);
  } finally {
    await sender.close();
  }
}

describe('syslog sender against rsyslogd', () => {
  let certificate: TestCertificate;
  let peer: SyslogPeer;
  before(async () => {
    certificate = await makeTestCertificate();
    peer = await startSyslogPeer({ certificate });
  });
  after(() => peer.stop());

  it('rsyslog parses every field, the structured data unescaped, the MSG after its BOM', async () => {
    const before = (await peer.received()).length;
    const first = delivery();
    const second = delivery({ severity: 'err', msgId: 'UploadAborted', message: 'second' });
    await withSender(config(peer.port), async (sender) => {
      await sender.send(first);
      await sender.send(second);
    });
    const [a, b] = (await peer.waitFor(before + 2)).slice(before);
    assert.equal(a!.protocolVersion, '1');
    assert.equal(a!.appName, 'sluice');
    assert.equal(a!.hostname, 'mft1.example.com');
    assert.equal(a!.procId, '-');
    assert.equal(a!.msgId, 'FileUploaded');
    assert.equal(a!.facility, '19');
    assert.equal(a!.severity, '5');
    assert.equal(a!.timestamp, '2026-12-02T17:30:00.123Z');
    assert.deepEqual(a!.sd, {
      'sluice@32473': { deliveryId: first.deliveryId, user: 'alice', path: '/inbox/q"1\\2]3 é.csv' },
    });
    assert.ok(
      a!.structuredData.startsWith(`[sluice@32473 deliveryId="${first.deliveryId}" `),
      a!.structuredData,
    );
    assert.equal(a!.msg, `${BOM}${first.message}`);
    assert.equal(b!.msgId, 'UploadAborted');
    assert.equal(b!.severity, '3');
    assert.equal(b!.sd['sluice@32473']!.deliveryId, second.deliveryId);
    assert.equal(b!.msg, `${BOM}second`);
  });

  it("the delivery id is the sender's own, whatever the structured data says", async () => {
    const before = (await peer.received()).length;
    const d = delivery({ structuredData: { deliveryId: 'forged', n: '1' } });
    await withSender(config(peer.port), (sender) => sender.send(d));
    assert.deepEqual((await peer.waitFor(before + 1)).at(-1)!.sd, {
      'sluice@32473': { deliveryId: d.deliveryId, n: '1' },
    });
  });

  it('a message at the 8192-octet limit arrives whole; a longer MSG is cut to the limit', async () => {
    const before = (await peer.received()).length;
    await withSender(config(peer.port), (sender) => sender.send(delivery({ message: 'x'.repeat(20_000) })));
    const got = (await peer.waitFor(before + 1)).at(-1)!;
    assert.equal(Buffer.byteLength(got.raw), 8192);
    assert.ok(got.msg.startsWith(`${BOM}xxx`));
  });

  it('over TLS, the collector trusted through its CA', async () => {
    const before = (await peer.received()).length;
    const d = delivery({ message: 'over tls' });
    await withSender(config(peer.tlsPort!, { tls: { ca: certificate.cert } }), (sender) => sender.send(d));
    const got = (await peer.waitFor(before + 1)).at(-1)!;
    assert.equal(got.msg, `${BOM}over tls`);
    assert.equal(got.sd['sluice@32473']!.deliveryId, d.deliveryId);
  });

  it('TLS refused as configuration: certificate not trusted, or not for the name', async () => {
    const untrusted = config(peer.tlsPort!, { tls: {} });
    await withSender(untrusted, (s) => expectFailure(s.send(delivery()), { code: 'tls', retryable: false }));
    const wrongName = config(peer.tlsPort!, {
      tls: { ca: certificate.cert, servername: 'elsewhere.example' },
    });
    await withSender(wrongName, (s) => expectFailure(s.send(delivery()), { code: 'tls', retryable: false }));
  });

  it('refuses bad configuration and bad messages before sending', async () => {
    for (const bad of [
      config(0),
      config(peer.port, { host: '' }),
      config(peer.port, { hostname: 'has space' }),
      config(peer.port, { appName: 'a'.repeat(49) }),
      config(peer.port, { facility: 99 }),
    ]) {
      assert.throws(
        () => createSyslogSender(bad),
        (e: unknown) => e instanceof NotificationError && e.code === 'bad-config' && !e.retryable,
        JSON.stringify(bad),
      );
    }
    const before = (await peer.received()).length;
    await withSender(config(peer.port), async (sender) => {
      for (const d of [
        delivery({ deliveryId: 'nope' }),
        delivery({ msgId: 'File Uploaded' }),
        delivery({ msgId: 'x'.repeat(33) }),
        delivery({ severity: 9 }),
        delivery({ structuredData: { 'a=b': 'v' } }),
        delivery({ timestamp: new Date(Number.NaN) }),
      ]) {
        await expectFailure(sender.send(d), { code: 'bad-message', retryable: false }, JSON.stringify(d));
      }
      await sender.send(delivery({ msgId: 'Marker' }));
    });
    assert.deepEqual(
      (await peer.waitFor(before + 1)).slice(before).map((m) => m.msgId),
      ['Marker'],
    );
  });
});

describe('syslog sender, one connection', () => {
  it('concurrent sends share one connection and all arrive', async () => {
    const peer = await startSyslogPeer();
    let disconnects = 0;
    try {
      const sender = createSyslogSender(config(peer.port, { onDisconnect: () => disconnects++ }));
      const deliveries = Array.from({ length: 50 }, (_, i) => delivery({ message: `n${i}` }));
      await Promise.all(deliveries.map((d) => sender.send(d)));
      await sender.close();
      assert.equal(disconnects, 1);
      const got = await peer.waitFor(50);
      assert.deepEqual(
        new Set(got.map((m) => m.sd['sluice@32473']!.deliveryId)),
        new Set(deliveries.map((d) => d.deliveryId)),
      );
    } finally {
      await peer.stop();
    }
  });

  it('a collector that stops reading: the send that cannot flush times out, retryably', async () => {
    const peer = await startSyslogPeer();
    const sender = createSyslogSender(config(peer.port, { timeoutMs: 500 }));
    try {
      await sender.send(delivery());
      peer.signal('SIGSTOP');
      // Until the kernel's buffers are full every write flushes; then one cannot.
      let error: unknown;
      for (let i = 0; error === undefined && i < 100_000; i++) {
        error = await sender.send(delivery({ message: 'x'.repeat(8000) })).then(
          () => undefined,
          (e: unknown) => e,
        );
      }
      assert.ok(error instanceof NotificationError, String(error));
      assert.equal(error.code, 'timeout');
      assert.equal(error.retryable, true);
    } finally {
      peer.signal('SIGCONT');
      await sender.close();
      await peer.stop();
    }
  });
});

describe('syslog sender when the collector goes away', () => {
  it('fails retryably while it is down, and reconnects when it is back', async () => {
    const port = await freePort();
    let peer = await startSyslogPeer({ port });
    let disconnected!: () => void;
    const gone = new Promise<void>((resolve) => {
      disconnected = resolve;
    });
    const sender = createSyslogSender(config(port, { onDisconnect: () => disconnected() }));
    try {
      await sender.send(delivery({ message: 'before' }));
      assert.equal((await peer.waitFor(1))[0]!.msg, `${BOM}before`);
      await peer.stop();
      await gone;
      await expectFailure(sender.send(delivery({ message: 'while down' })), {
        code: 'network',
        retryable: true,
      });
      peer = await startSyslogPeer({ port });
      await sender.send(delivery({ message: 'after' }));
      assert.deepEqual(
        (await peer.waitFor(1)).map((m) => m.msg),
        [`${BOM}after`],
      );
    } finally {
      await sender.close();
      await peer.stop();
    }
  });

  it('a collector that is not there: retryable', async () => {
    await withSender(config(await freePort()), (sender) =>
      expectFailure(sender.send(delivery()), { code: 'network', retryable: true }),
    );
  });
});
