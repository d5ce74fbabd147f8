import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('configuration from the environment', () => {
  it('has working defaults', () => {
    const config = loadConfig({});
    assert.equal(config.httpPort, 8080);
    assert.equal(config.dataDir, path.resolve('./data'));
    assert.equal(config.filesDir, path.join(path.resolve('./data'), 'files'));
    assert.equal(config.databaseUrl, undefined);
    assert.equal(config.logLevel, 'info');
  });

  it('reads every variable', () => {
    const config = loadConfig({
      MFT_DATA_DIR: '/srv/sluice',
      MFT_HTTP_PORT: '9000',
      MFT_BIND_ADDRESS: '127.0.0.1',
      DATABASE_URL: 'postgresql://u:p@db.internal:5432/sluice',
      EVENTSTORE_URL: 'esdb://admin:changeit@kurrentdb:2113?tls=false',
      MFT_PG_PORT: '6000',
      MFT_LOG_LEVEL: 'debug',
      MFT_READY_MAX_LAG: '0',
    });
    assert.deepEqual(config, {
      dataDir: '/srv/sluice',
      filesDir: '/srv/sluice/files',
      bindAddress: '127.0.0.1',
      httpPort: 9000,
      sftpPort: 2222,
      ftps: { port: 2121, implicitPort: 9990, passivePorts: null, passiveAddress: null, tls: null },
      maxUploadBytes: 10 * 1024 ** 3,
      tls: undefined,
      trustedProxies: [],
      sftpMaxConnectionsPerUser: 10,
      instanceLeaseMs: 30_000,
      sftpMaxHandlesPerConnection: 256,
      databaseUrl: 'postgresql://u:p@db.internal:5432/sluice',
      eventStoreUrl: 'esdb://admin:changeit@kurrentdb:2113?tls=false',
      embeddedPgPort: 6000,
      logLevel: 'debug',
      readyMaxLag: 0,
      adminPassword: undefined,
      adminEmail: 'admin@localhost.localdomain',
      ticketSecret: undefined,
      ticketMaxAgeMs: 300_000,
      ticketClockSkewMs: 60_000,
      siteName: undefined,
      defender: {
        maxFailuresPerAddress: 10,
        maxFailuresPerUser: 30,
        windowMs: 600_000,
        banMs: 900_000,
        maxBanMs: 86_400_000,
        allowList: [],
        delayFreeFailures: 2,
        maxUnknownUserEventsPerMinute: 600,
        delayMs: 250,
        maxDelayMs: 5000,
      },
      defenderSummaryIntervalMs: 60_000,
      sessionLifetimeMs: null,
      sessionIdleMs: 1_800_000,
      sessionExpiryIntervalMs: 60_000,
      logKeyFile: '/srv/sluice/log-key/ed25519.pem',
      treeHeadIntervalMs: 600_000,
      limits: {
        sshAuthTimeoutMs: 30_000,
        sshMaxUnauthenticated: 200,
        sshMaxUnauthenticatedPerAddress: 20,
        httpHeadersTimeoutMs: 20_000,
        httpRequestTimeoutMs: 3_600_000,
        httpIdleTimeoutMs: 60_000,
        httpKeepAliveTimeoutMs: 5_000,
        httpMaxConnections: 1000,
        httpMaxConnectionsPerAddress: 100,
        httpMaxRequestsPerSocket: 1000,
        auditStreamsPerUser: 5,
        auditStreams: 200,
        maxFileBytes: 10 * 1024 ** 3,
        maxWriteGapBytes: 64 * 1024 ** 2,
        userQuotaBytes: 0,
      },
      testCrashAt: undefined,
      deliveries: {
        leaseMs: 600_000,
        pollMs: 1000,
        concurrency: 4,
        retry: { maxAttempts: 8, initialMs: 5000, maxMs: 900_000 },
      },
      uploadScan: null,
      smtpUrl: null,
      smtpFrom: 'sluice@localhost',
      smtpCaFile: undefined,
      syslogCaFile: undefined,
    });
  });

  it('reads where the log key lives and how often tree heads are signed, and refuses bad values', () => {
    const scan = loadConfig({ MFT_UPLOAD_SCAN_COMMAND: '["/usr/bin/clamdscan","--no-summary"]' }).uploadScan;
    assert.deepEqual(scan, {
      kind: 'command',
      command: '/usr/bin/clamdscan',
      args: ['--no-summary'],
      timeoutMs: 300_000,
    });
    assert.throws(() => loadConfig({ MFT_UPLOAD_SCAN_COMMAND: 'clamdscan' }), /absolute path/);
    assert.throws(() => loadConfig({ MFT_UPLOAD_SCAN_COMMAND: '[1]' }), /JSON array of strings/);
    assert.throws(() => loadConfig({ MFT_UPLOAD_SCAN_URL: 'ftp://x' }), /http/);
    for (const url of ['mail.example.com:25', 'smtp://user:secret@[mail', 'http://mail.example.com'])
      assert.throws(
        () => loadConfig({ MFT_SMTP_URL: url }),
        (error: Error) =>
          /^MFT_SMTP_URL: .*smtp:\/\//.test(error.message) && !error.message.includes('secret'),
        url,
      );
    assert.equal(
      loadConfig({ MFT_SMTP_URL: 'smtps://u:p@mail.example.com' }).smtpUrl,
      'smtps://u:p@mail.example.com',
    );
    assert.throws(
      () => loadConfig({ MFT_SMTP_FROM: 'Sluice <sluice@example.com>' }),
      /^ConfigError: MFT_SMTP_FROM/,
    );
    for (const name of ['MFT_SMTP_CA_FILE', 'MFT_SYSLOG_CA_FILE'])
      assert.throws(() => loadConfig({ [name]: '/no/such/ca.pem' }), new RegExp(`${name}: no such file`));
    const config = loadConfig({ MFT_LOG_KEY_FILE: 'keys/log.pem', MFT_TREE_HEAD_INTERVAL_SECONDS: '60' });
    assert.equal(config.logKeyFile, path.resolve('keys/log.pem'));
    assert.equal(config.treeHeadIntervalMs, 60_000);
    assert.equal(loadConfig({ MFT_TREE_HEAD_INTERVAL_SECONDS: '0' }).treeHeadIntervalMs, null);
    assert.throws(
      () => loadConfig({ MFT_TREE_HEAD_INTERVAL_SECONDS: 'hourly' }),
      /MFT_TREE_HEAD_INTERVAL_SECONDS: expected a whole number/,
    );
  });

  it('reads the defender, the admin e-mail and the session lifetime, and refuses bad values', () => {
    const config = loadConfig({
      MFT_DEFENDER_MAX_FAILURES_PER_ADDRESS: '3',
      MFT_DEFENDER_ALLOW: '10.0.0.0/8, 192.0.2.1',
      MFT_ADMIN_EMAIL: 'ops@example.com',
      MFT_SESSION_LIFETIME_SECONDS: '600',
      MFT_DEFENDER_DELAY_MS: '0',
      MFT_DEFENDER_DELAY_MAX_MS: '2000',
    });
    assert.equal(config.defender.maxFailuresPerAddress, 3);
    assert.equal(config.defender.delayMs, 0);
    assert.equal(config.defender.maxDelayMs, 2000);
    assert.deepEqual(config.defender.allowList, ['10.0.0.0/8', '192.0.2.1']);
    assert.equal(config.adminEmail, 'ops@example.com');
    assert.equal(config.sessionLifetimeMs, 600_000);
    assert.equal(loadConfig({ MFT_SESSION_IDLE_SECONDS: '90' }).sessionIdleMs, 90_000);
    assert.equal(loadConfig({ MFT_SESSION_IDLE_SECONDS: '0' }).sessionIdleMs, null, '0 turns it off');
    for (const [name, value] of [
      ['MFT_SESSION_IDLE_SECONDS', '-1'],
      ['MFT_SESSION_IDLE_SECONDS', '1h'],
      ['MFT_DEFENDER_MAX_FAILURES_PER_ADDRESS', '0'],
      ['MFT_DEFENDER_ALLOW', 'not-an-address'],
      ['MFT_ADMIN_EMAIL', 'no-at-sign'],
      ['MFT_SESSION_LIFETIME_SECONDS', '5'],
      ['MFT_DEFENDER_DELAY_MS', '60001'],
      ['MFT_DEFENDER_DELAY_FREE_FAILURES', '-1'],
    ] as const) {
      assert.throws(
        () => loadConfig({ [name]: value }),
        (e: Error) => e.message.startsWith(`${name}:`),
        name,
      );
    }
  });

  it('reads the limits, and the HTTP upload limit follows the file size limit', () => {
    const config = loadConfig({
      MFT_SSH_AUTH_TIMEOUT_SECONDS: '2',
      MFT_MAX_FILE_BYTES: '1000',
      MFT_USER_QUOTA_BYTES: '5000',
      MFT_HTTP_MAX_REQUESTS_PER_SOCKET: '0',
    });
    assert.equal(config.limits.sshAuthTimeoutMs, 2000);
    assert.equal(config.limits.maxFileBytes, 1000);
    assert.equal(config.maxUploadBytes, 1000);
    assert.equal(config.limits.userQuotaBytes, 5000);
    assert.equal(config.limits.httpMaxRequestsPerSocket, 0);
  });

  it('reads the FTPS ports, the passive range and address, and 0 turns a listener off', () => {
    const ftps = loadConfig({
      MFT_FTPS_PORT: '0',
      MFT_FTPS_IMPLICIT_PORT: '990',
      MFT_FTPS_PASSIVE_PORTS: '50000-50100',
      MFT_FTPS_PASSIVE_ADDRESS: '203.0.113.7',
    }).ftps;
    assert.deepEqual(ftps, {
      port: null,
      implicitPort: 990,
      passivePorts: { from: 50000, to: 50100 },
      passiveAddress: '203.0.113.7',
      tls: null,
    });
  });

  it('reads the test-only crash point', () => {
    assert.equal(loadConfig({ MFT_TEST_CRASH_AT: 'rename.after-effect' }).testCrashAt, 'rename.after-effect');
  });

  const bad: Array<[Record<string, string>, string]> = [
    [{ MFT_HTTP_PORT: '80a' }, 'MFT_HTTP_PORT'],
    [{ MFT_HTTP_PORT: '-1' }, 'MFT_HTTP_PORT'],
    [{ MFT_HTTP_PORT: '0' }, 'MFT_HTTP_PORT'],
    [{ MFT_HTTP_PORT: '65536' }, 'MFT_HTTP_PORT'],
    [{ MFT_PG_PORT: '1.5' }, 'MFT_PG_PORT'],
    [{ DATABASE_URL: 'localhost:5432' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'http://localhost/db' }, 'DATABASE_URL'],
    [{ MFT_LOG_LEVEL: 'verbose' }, 'MFT_LOG_LEVEL'],
    [{ MFT_SSH_AUTH_TIMEOUT_SECONDS: '0' }, 'MFT_SSH_AUTH_TIMEOUT_SECONDS'],
    [{ MFT_USER_QUOTA_BYTES: '1e9' }, 'MFT_USER_QUOTA_BYTES'],
    [
      { MFT_HTTP_HEADERS_TIMEOUT_SECONDS: '120', MFT_HTTP_REQUEST_TIMEOUT_SECONDS: '60' },
      'MFT_HTTP_HEADERS_TIMEOUT_SECONDS',
    ],
    [{ MFT_READY_MAX_LAG: 'lots' }, 'MFT_READY_MAX_LAG'],
    [{ MFT_TEST_CRASH_AT: 'delete.somewhere' }, 'MFT_TEST_CRASH_AT'],
    [{ EVENTSTORE_URL: 'http://localhost:2113' }, 'EVENTSTORE_URL'],
    [{ EVENTSTORE_URL: 'localhost:2113' }, 'EVENTSTORE_URL'],
    [{ EVENTSTORE_URL: 'esdb://admin:changeit@' }, 'EVENTSTORE_URL'],
    [{ MFT_TICKET_SECRET: 'too-short' }, 'MFT_TICKET_SECRET'],
    [{ MFT_TLS_CERT: '/no/such/cert.pem' }, 'MFT_TLS_KEY'],
    [{ MFT_TLS_CERT: '/no/such/cert.pem', MFT_TLS_KEY: '/no/such/key.pem' }, 'MFT_TLS_CERT'],
    [{ MFT_TRUSTED_PROXIES: '10.0.0.1, example.com' }, 'MFT_TRUSTED_PROXIES'],
    [{ MFT_ADMIN_PASSWORD: 'short' }, 'MFT_ADMIN_PASSWORD'],
    [{ MFT_TICKET_MAX_AGE_SECONDS: '0' }, 'MFT_TICKET_MAX_AGE_SECONDS'],
    [{ MFT_FTPS_PORT: '2222' }, 'MFT_FTPS_PORT'],
    [{ MFT_FTPS_IMPLICIT_PORT: '2121' }, 'MFT_FTPS_IMPLICIT_PORT'],
    [{ MFT_FTPS_PORT: '70000' }, 'MFT_FTPS_PORT'],
    [{ MFT_FTPS_PASSIVE_PORTS: '50100-50000' }, 'MFT_FTPS_PASSIVE_PORTS'],
    [{ MFT_FTPS_PASSIVE_PORTS: '80-90' }, 'MFT_FTPS_PASSIVE_PORTS'],
    [{ MFT_FTPS_PASSIVE_PORTS: '50000' }, 'MFT_FTPS_PASSIVE_PORTS'],
    [{ MFT_FTPS_PASSIVE_ADDRESS: 'ftp.example.com' }, 'MFT_FTPS_PASSIVE_ADDRESS'],
    [{ MFT_FTPS_PASSIVE_ADDRESS: '300.1.2.3' }, 'MFT_FTPS_PASSIVE_ADDRESS'],
    [{ MFT_FTPS_CERT: '/no/such/cert.pem' }, 'MFT_FTPS_KEY'],
  ];
  it('accepts the KurrentDB connection string schemes, gossip seeds included', () => {
    for (const url of [
      'esdb://localhost:2113',
      'esdb+discover://cluster.internal:2113?tls=true',
      'kurrentdb://admin:changeit@kurrentdb:2113?tls=false',
      'kurrentdb+discover://node1:2113,node2:2113,node3:2113?nodePreference=leader',
      'esdb://[::1]:2113?tls=false',
    ]) {
      assert.equal(loadConfig({ EVENTSTORE_URL: url }).eventStoreUrl, url);
    }
    assert.equal(loadConfig({}).eventStoreUrl, undefined);
  });

  it('never repeats the connection string, which may hold a password, in its error', () => {
    assert.throws(
      () => loadConfig({ EVENTSTORE_URL: 'https://admin:s3cret-pw@kurrentdb:2113' }),
      (error: unknown) => error instanceof ConfigError && !error.message.includes('s3cret-pw'),
    );
  });

  for (const [env, variable] of bad) {
    it(`rejects ${JSON.stringify(env)} naming ${variable}`, () => {
      assert.throws(
        () => loadConfig(env),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.variable === variable &&
          error.message.startsWith(`${variable}: `),
      );
    });
  }
});
