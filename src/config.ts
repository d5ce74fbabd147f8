/**
 * Configuration from the environment, validated once at start. A bad value stops Sluice with
 * one line naming the variable (`ConfigError`), never a stack trace.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { HookConfig } from './adapters/hooks/hook.js';
import { CRASH_POINTS, type CrashPoint } from './application/files/file-intents.js';
import type { DefenderPolicy } from './domain/defender/policy.js';
import type { RetryPolicy } from './domain/deliveries/retry-policy.js';
import { PLAIN_ADDRESS } from './domain/flows/notifier.js';

export interface Config {
  /** Where the embedded database and the files live. */
  readonly dataDir: string;
  readonly filesDir: string;
  readonly bindAddress: string;
  readonly httpPort: number;
  readonly sftpPort: number;
  /** FTPS listeners, passive data ports and certificate (docs/ftps.md). */
  readonly ftps: FtpsConfig;
  /** Largest HTTP upload accepted, in bytes. */
  readonly maxUploadBytes: number;
  /** PEM certificate and key files: the HTTP API then speaks HTTPS only. */
  readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
  /** Proxies whose X-Forwarded-For is believed (addresses or CIDR ranges); nobody's by default. */
  readonly trustedProxies: readonly string[];
  /** A user's SSH connections, counted across every instance. */
  readonly sftpMaxConnectionsPerUser: number;
  /** How long an instance's lease holds unrenewed: the connections of one that died stop counting then. */
  readonly instanceLeaseMs: number;
  readonly sftpMaxHandlesPerConnection: number;
  /** External PostgreSQL for the event store and the read model; embedded when absent. */
  readonly databaseUrl: string | undefined;
  /**
   * KurrentDB connection string (esdb://, esdb+discover://, kurrentdb://, kurrentdb+discover://):
   * when set, events live in KurrentDB; the read model, credentials and checkpoints stay in PostgreSQL.
   */
  readonly eventStoreUrl: string | undefined;
  /** Port of the embedded PostgreSQL (127.0.0.1 only). */
  readonly embeddedPgPort: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  /** /readyz fails while any projection is more than this many events behind the log. */
  readonly readyMaxLag: number;
  /** Password of the `admin` user made on first start; generated and printed once when unset. */
  readonly adminPassword: string | undefined;
  /** E-mail address of the `admin` user made on first start. */
  readonly adminEmail: string;
  /** Secret shared with integrators for sign-in tickets; ticket calls are refused when unset. */
  readonly ticketSecret: string | undefined;
  readonly ticketMaxAgeMs: number;
  readonly ticketClockSkewMs: number;
  /** When set, tickets must name this site. */
  readonly siteName: string | undefined;
  /** The sign-in defender's rules (MFT_DEFENDER_*). */
  readonly defender: DefenderPolicy;
  /** How often attempts refused during bans are summed into events. */
  readonly defenderSummaryIntervalMs: number;
  /** Lifetime of replaceable sessions (Open, OpenWithTicket, OpenWithTicketEx); null: until replaced. */
  readonly sessionLifetimeMs: number | null;
  /** Replaceable sessions unused this long end; null (MFT_SESSION_IDLE_SECONDS=0): no idle limit. */
  readonly sessionIdleMs: number | null;
  /** How often immutable sessions past their 48 hours are recorded as expired. */
  readonly sessionExpiryIntervalMs: number;
  /** The Ed25519 key that signs tree heads (made on first start, mode 0600). */
  readonly logKeyFile: string;
  /** How often a tree head is signed when events were recorded since the last; null: only on demand. */
  readonly treeHeadIntervalMs: number | null;
  /** Bounds against abuse: connections before sign-in, HTTP timeouts, streams, file sizes, quotas. */
  readonly limits: Limits;
  /** Test only (MFT_TEST_CRASH_AT): the step of a file change at which the process kills itself. */
  readonly testCrashAt: CrashPoint | undefined;
  /** How flows, notifications and scans are attempted (docs/flows.md). */
  readonly deliveries: DeliveriesConfig;
  /** The post-processing hook every complete upload passes before a flow takes it; null: none. */
  readonly uploadScan: UploadScanConfig | null;
  /** The SMTP server e-mail notifiers send through (smtp:// or smtps://); null: no e-mail. */
  readonly smtpUrl: string | null;
  readonly smtpFrom: string;
  /** PEM file of the CA that signs the SMTP server's certificate; unset: the system's CAs. */
  readonly smtpCaFile: string | undefined;
  /** PEM file of the CA that signs TLS syslog collectors' certificates; unset: the system's CAs. */
  readonly syslogCaFile: string | undefined;
}

export interface DeliveriesConfig {
  /** An attempt running longer than this counts as abandoned (its process died) and is retried. */
  readonly leaseMs: number;
  /** How often the worker asks what is due. */
  readonly pollMs: number;
  /** Attempts under way at once in one process. */
  readonly concurrency: number;
  readonly retry: RetryPolicy;
}

/** A command (the file's path appended as its last argument) or an HTTP endpoint (src/adapters/hooks). */
export type UploadScanConfig = HookConfig;

export interface FtpsConfig {
  /** Explicit FTPS (AUTH TLS, the port 21 style); null (MFT_FTPS_PORT=0): not served. */
  readonly port: number | null;
  /** Implicit FTPS (TLS from the first byte, the port 990 style); null: not served. */
  readonly implicitPort: number | null;
  /** Passive data ports, inclusive; null: any free port the system gives. */
  readonly passivePorts: { readonly from: number; readonly to: number } | null;
  /** The IPv4 address PASV announces (behind NAT); null: the address the client reached. */
  readonly passiveAddress: string | null;
  /** PEM certificate and key; null: a self-signed pair made on first start under MFT_DATA_DIR/ftps. */
  readonly tls: { readonly certFile: string; readonly keyFile: string } | null;
}

export interface Limits {
  /** An SSH connection not signed in by then is cut. */
  readonly sshAuthTimeoutMs: number;
  /** SSH connections not yet signed in, in all and per client address; further ones are closed at once. */
  readonly sshMaxUnauthenticated: number;
  readonly sshMaxUnauthenticatedPerAddress: number;
  /** Time for a client to send a request's headers, and the whole request (body included). */
  readonly httpHeadersTimeoutMs: number;
  readonly httpRequestTimeoutMs: number;
  /** A connection on which nothing moves for this long is closed. */
  readonly httpIdleTimeoutMs: number;
  /** How long an idle keep-alive connection waits for its next request. */
  readonly httpKeepAliveTimeoutMs: number;
  /** Open HTTP connections; further ones are closed at once. */
  readonly httpMaxConnections: number;
  /** Open HTTP connections from one address (trusted proxies excepted). */
  readonly httpMaxConnectionsPerAddress: number;
  /** Requests served on one keep-alive connection before it is closed (0: no limit). */
  readonly httpMaxRequestsPerSocket: number;
  /** Live audit streams (SSE) one user may hold; the next one gets 429. */
  readonly auditStreamsPerUser: number;
  /** Live audit streams one process serves at once, all users together. */
  readonly auditStreams: number;
  /** Largest file any protocol may store. */
  readonly maxFileBytes: number;
  /** How far past the end of what was written an SFTP WRITE may start (a hole). */
  readonly maxWriteGapBytes: number;
  /** Bytes each user may store in all (0: no quota). */
  readonly userQuotaBytes: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function value(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function port(env: Env, name: string, fallback: number): number {
  return integer(env, name, fallback, 1, 65535);
}

function postgresUrl(env: Env, name: string): string | undefined {
  const raw = value(env, name);
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, 'not a valid URL (expected postgres://user:password@host:port/database)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(name, `expected a postgres:// URL, got ${url.protocol}//`);
  }
  if (!url.hostname) throw new ConfigError(name, 'the URL names no host');
  return raw;
}

/** A secret taken as is (not trimmed); its value never appears in an error. */
function secret(env: Env, name: string, minLength: number): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (raw.length < minLength) throw new ConfigError(name, `must be at least ${minLength} characters`);
  return raw;
}

const EVENTSTORE_SCHEMES = ['esdb', 'esdb+discover', 'kurrentdb', 'kurrentdb+discover'];
const EVENTSTORE_HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(:\d{1,5})?$/;

/** A KurrentDB connection string: scheme, optional user:password@, host[:port][,…], optional ?options. */
function eventStoreUrl(env: Env, name: string): string | undefined {
  const raw = value(env, name);
  if (raw === undefined) return undefined;
  const expected = `expected ${EVENTSTORE_SCHEMES.map((s) => `${s}://`).join(', ')} followed by host:port`;
  // Parsed by hand: a gossip seed list (a:2113,b:2113) is not a WHATWG URL. The value may hold a
  // password, so no message repeats it.
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(?:[^@/?#]*@)?([^@/?#]*)\/?(\?[^#]*)?$/.exec(raw);
  if (!match) throw new ConfigError(name, `not a valid connection string (${expected})`);
  const scheme = match[1]!.toLowerCase();
  if (!EVENTSTORE_SCHEMES.includes(scheme)) throw new ConfigError(name, `${expected}, got ${scheme}://`);
  const hosts = match[2]!.split(',');
  if (hosts.some((host) => !EVENTSTORE_HOST.test(host))) {
    throw new ConfigError(name, `names no valid host (${expected}, e.g. esdb://kurrentdb:2113?tls=false)`);
  }
  return raw;
}

function tlsFiles(env: Env, certName = 'MFT_TLS_CERT', keyName = 'MFT_TLS_KEY'): Config['tls'] {
  const certFile = value(env, certName);
  const keyFile = value(env, keyName);
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined) throw new ConfigError(certName, `must be set together with ${keyName}`);
  if (keyFile === undefined) throw new ConfigError(keyName, `must be set together with ${certName}`);
  for (const [name, file] of [
    [certName, certFile],
    [keyName, keyFile],
  ] as const) {
    if (!existsSync(file)) throw new ConfigError(name, `no such file: ${file}`);
  }
  return { certFile, keyFile };
}

/** A port, or null when the variable is 0 (the listener is off). */
function optionalPort(env: Env, name: string, fallback: number): number | null {
  return integer(env, name, fallback, 0, 65535) || null;
}

function portRange(env: Env, name: string): FtpsConfig['passivePorts'] {
  const raw = value(env, name);
  if (raw === undefined) return null;
  const match = /^(\d{1,5})-(\d{1,5})$/.exec(raw);
  const from = Number(match?.[1]);
  const to = Number(match?.[2]);
  if (!match || from < 1024 || to > 65535 || from > to)
    throw new ConfigError(
      name,
      `expected a range of ports like 50000-50100 (from 1024 to 65535), got "${raw}"`,
    );
  return { from, to };
}

function ipv4(env: Env, name: string): string | null {
  const raw = value(env, name);
  if (raw === undefined) return null;
  if (!/^(\d{1,3}\.){3}\d{1,3}$/.test(raw) || raw.split('.').some((part) => Number(part) > 255))
    throw new ConfigError(name, `expected an IPv4 address (PASV can announce no other), got "${raw}"`);
  return raw;
}

function loadFtps(env: Env): FtpsConfig {
  return {
    port: optionalPort(env, 'MFT_FTPS_PORT', 2121),
    implicitPort: optionalPort(env, 'MFT_FTPS_IMPLICIT_PORT', 9990),
    passivePorts: portRange(env, 'MFT_FTPS_PASSIVE_PORTS'),
    passiveAddress: ipv4(env, 'MFT_FTPS_PASSIVE_ADDRESS'),
    tls: tlsFiles(env, 'MFT_FTPS_CERT', 'MFT_FTPS_KEY') ?? null,
  };
}

const IPV4_OR_CIDR = /^(\d{1,3}\.){3}\d{1,3}(\/\d{1,2})?$/;
const IPV6_OR_CIDR = /^[0-9a-f:]+(\/\d{1,3})?$/i;

function addressList(env: Env, name: string): string[] {
  const raw = value(env, name);
  if (raw === undefined) return [];
  const entries = raw
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  for (const entry of entries) {
    if (!IPV4_OR_CIDR.test(entry) && !(entry.includes(':') && IPV6_OR_CIDR.test(entry))) {
      throw new ConfigError(name, `"${entry}" is not an IP address or CIDR range`);
    }
  }
  return entries;
}

function emailAddress(env: Env, name: string, fallback: string): string {
  const raw = value(env, name) ?? fallback;
  if (raw.length > 254 || !/^[^\s@/\\]+@[^\s@/\\]+$/.test(raw))
    throw new ConfigError(name, `"${raw}" is not an e-mail address`);
  return raw;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

function crashPoint(env: Env, name: string): CrashPoint | undefined {
  const point = value(env, name);
  if (point === undefined) return undefined;
  if (!(CRASH_POINTS as readonly string[]).includes(point))
    throw new ConfigError(name, `expected one of ${CRASH_POINTS.join(', ')}, got "${point}"`);
  return point as CrashPoint;
}

function loadLimits(env: Env, maxFileBytes: number): Limits {
  const seconds = (name: string, fallback: number, max = 86_400) =>
    integer(env, name, fallback, 1, max) * 1000;
  return {
    sshAuthTimeoutMs: seconds('MFT_SSH_AUTH_TIMEOUT_SECONDS', 30, 3600),
    sshMaxUnauthenticated: integer(env, 'MFT_SSH_MAX_UNAUTHENTICATED', 200, 1, 100_000),
    sshMaxUnauthenticatedPerAddress: integer(env, 'MFT_SSH_MAX_UNAUTHENTICATED_PER_ADDRESS', 20, 1, 100_000),
    httpHeadersTimeoutMs: seconds('MFT_HTTP_HEADERS_TIMEOUT_SECONDS', 20),
    httpRequestTimeoutMs: seconds('MFT_HTTP_REQUEST_TIMEOUT_SECONDS', 3600),
    httpIdleTimeoutMs: seconds('MFT_HTTP_IDLE_TIMEOUT_SECONDS', 60),
    httpKeepAliveTimeoutMs: seconds('MFT_HTTP_KEEP_ALIVE_TIMEOUT_SECONDS', 5, 3600),
    httpMaxConnections: integer(env, 'MFT_HTTP_MAX_CONNECTIONS', 1000, 1, 1_000_000),
    httpMaxConnectionsPerAddress: integer(env, 'MFT_HTTP_MAX_CONNECTIONS_PER_ADDRESS', 100, 1, 1_000_000),
    httpMaxRequestsPerSocket: integer(env, 'MFT_HTTP_MAX_REQUESTS_PER_SOCKET', 1000, 0, 1_000_000),
    auditStreamsPerUser: integer(env, 'MFT_AUDIT_MAX_STREAMS_PER_USER', 5, 1, 10_000),
    auditStreams: integer(env, 'MFT_AUDIT_MAX_STREAMS', 200, 1, 100_000),
    maxFileBytes,
    maxWriteGapBytes: integer(env, 'MFT_MAX_WRITE_GAP_BYTES', 64 * 1024 ** 2, 0, Number.MAX_SAFE_INTEGER),
    userQuotaBytes: integer(env, 'MFT_USER_QUOTA_BYTES', 0, 0, Number.MAX_SAFE_INTEGER),
  };
}

export function loadConfig(env: Env = process.env): Config {
  const dataDir = path.resolve(value(env, 'MFT_DATA_DIR') ?? './data');
  const logLevel = value(env, 'MFT_LOG_LEVEL') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError('MFT_LOG_LEVEL', `expected one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  const maxFileBytes = integer(env, 'MFT_MAX_FILE_BYTES', 10 * 1024 ** 3, 1, Number.MAX_SAFE_INTEGER);
  const config: Config = {
    dataDir,
    filesDir: path.join(dataDir, 'files'),
    bindAddress: value(env, 'MFT_BIND_ADDRESS') ?? '0.0.0.0',
    httpPort: port(env, 'MFT_HTTP_PORT', 8080),
    sftpPort: port(env, 'MFT_SFTP_PORT', 2222),
    ftps: loadFtps(env),
    maxUploadBytes: integer(env, 'MFT_HTTP_MAX_UPLOAD_BYTES', maxFileBytes, 1, Number.MAX_SAFE_INTEGER),
    tls: tlsFiles(env),
    trustedProxies: addressList(env, 'MFT_TRUSTED_PROXIES'),
    sftpMaxConnectionsPerUser: integer(env, 'MFT_SFTP_MAX_CONNECTIONS_PER_USER', 10, 1, 10_000),
    instanceLeaseMs: integer(env, 'MFT_INSTANCE_LEASE_SECONDS', 30, 3, 3600) * 1000,
    sftpMaxHandlesPerConnection: integer(env, 'MFT_SFTP_MAX_HANDLES', 256, 1, 100_000),
    databaseUrl: postgresUrl(env, 'DATABASE_URL'),
    eventStoreUrl: eventStoreUrl(env, 'EVENTSTORE_URL'),
    embeddedPgPort: port(env, 'MFT_PG_PORT', 54329),
    logLevel: logLevel as Config['logLevel'],
    readyMaxLag: integer(env, 'MFT_READY_MAX_LAG', 1000, 0, Number.MAX_SAFE_INTEGER),
    adminPassword: secret(env, 'MFT_ADMIN_PASSWORD', 8),
    adminEmail: emailAddress(env, 'MFT_ADMIN_EMAIL', 'admin@localhost.localdomain'),
    ticketSecret: secret(env, 'MFT_TICKET_SECRET', 16),
    ticketMaxAgeMs: integer(env, 'MFT_TICKET_MAX_AGE_SECONDS', 300, 1, 86_400) * 1000,
    ticketClockSkewMs: integer(env, 'MFT_TICKET_CLOCK_SKEW_SECONDS', 60, 0, 3600) * 1000,
    siteName: value(env, 'MFT_SITE_NAME'),
    defender: {
      maxFailuresPerAddress: integer(env, 'MFT_DEFENDER_MAX_FAILURES_PER_ADDRESS', 10, 1, 1_000_000),
      maxFailuresPerUser: integer(env, 'MFT_DEFENDER_MAX_FAILURES_PER_USER', 30, 1, 1_000_000),
      windowMs: integer(env, 'MFT_DEFENDER_WINDOW_SECONDS', 600, 1, 86_400) * 1000,
      banMs: integer(env, 'MFT_DEFENDER_BAN_SECONDS', 900, 1, 30 * 86_400) * 1000,
      maxBanMs: integer(env, 'MFT_DEFENDER_MAX_BAN_SECONDS', 86_400, 1, 365 * 86_400) * 1000,
      allowList: addressList(env, 'MFT_DEFENDER_ALLOW'),
      delayFreeFailures: integer(env, 'MFT_DEFENDER_DELAY_FREE_FAILURES', 2, 0, 1_000_000),
      delayMs: integer(env, 'MFT_DEFENDER_DELAY_MS', 250, 0, 60_000),
      maxDelayMs: integer(env, 'MFT_DEFENDER_DELAY_MAX_MS', 5000, 0, 60_000),
      maxUnknownUserEventsPerMinute: integer(
        env,
        'MFT_DEFENDER_MAX_FAILURE_EVENTS_PER_MINUTE',
        600,
        0,
        1_000_000,
      ),
    },
    defenderSummaryIntervalMs: integer(env, 'MFT_DEFENDER_SUMMARY_INTERVAL_SECONDS', 60, 1, 86_400) * 1000,
    sessionLifetimeMs:
      value(env, 'MFT_SESSION_LIFETIME_SECONDS') === undefined
        ? null
        : integer(env, 'MFT_SESSION_LIFETIME_SECONDS', 0, 60, 365 * 86_400) * 1000,
    sessionIdleMs: integer(env, 'MFT_SESSION_IDLE_SECONDS', 1800, 0, 365 * 86_400) * 1000 || null,
    sessionExpiryIntervalMs: integer(env, 'MFT_SESSION_EXPIRY_INTERVAL_SECONDS', 60, 1, 86_400) * 1000,
    logKeyFile: path.resolve(value(env, 'MFT_LOG_KEY_FILE') ?? path.join(dataDir, 'log-key', 'ed25519.pem')),
    treeHeadIntervalMs: integer(env, 'MFT_TREE_HEAD_INTERVAL_SECONDS', 600, 0, 7 * 86_400) * 1000 || null,
    limits: loadLimits(env, maxFileBytes),
    testCrashAt: crashPoint(env, 'MFT_TEST_CRASH_AT'),
    deliveries: {
      leaseMs: integer(env, 'MFT_DELIVERY_LEASE_SECONDS', 600, 1, 86_400) * 1000,
      pollMs: integer(env, 'MFT_DELIVERY_POLL_MS', 1000, 10, 60_000),
      concurrency: integer(env, 'MFT_DELIVERY_CONCURRENCY', 4, 1, 256),
      retry: {
        maxAttempts: integer(env, 'MFT_DELIVERY_MAX_ATTEMPTS', 8, 1, 1000),
        initialMs: integer(env, 'MFT_DELIVERY_RETRY_MS', 5000, 1, 86_400_000),
        maxMs: integer(env, 'MFT_DELIVERY_RETRY_MAX_MS', 900_000, 1, 86_400_000),
      },
    },
    uploadScan: uploadScan(env),
    ...notificationSettings(env),
  };
  if (config.limits.httpHeadersTimeoutMs > config.limits.httpRequestTimeoutMs) {
    throw new ConfigError(
      'MFT_HTTP_HEADERS_TIMEOUT_SECONDS',
      `must not exceed MFT_HTTP_REQUEST_TIMEOUT_SECONDS (${config.limits.httpRequestTimeoutMs / 1000})`,
    );
  }
  if (config.httpPort === config.sftpPort) {
    throw new ConfigError('MFT_SFTP_PORT', `must differ from MFT_HTTP_PORT (${config.httpPort})`);
  }
  const taken: Array<[string, number | null]> = [
    ['MFT_HTTP_PORT', config.httpPort],
    ['MFT_SFTP_PORT', config.sftpPort],
  ];
  for (const [name, port] of [
    ['MFT_FTPS_PORT', config.ftps.port],
    ['MFT_FTPS_IMPLICIT_PORT', config.ftps.implicitPort],
  ] as const) {
    const clash = taken.find(([, other]) => port !== null && other === port);
    if (clash) throw new ConfigError(name, `must differ from ${clash[0]} (${port})`);
    taken.push([name, port]);
  }
  return config;
}

export type SettingValue = string | number | boolean | null;

/** Settings that are secrets: the summary says only whether each is set. */
const SECRET_SETTINGS = new Set(['adminPassword', 'ticketSecret']);
/** Settings holding URLs that may carry a password: the summary keeps them without it. */
const URL_SETTINGS = new Set(['databaseUrl', 'eventStoreUrl', 'smtpUrl', 'url']);

/** A URL without its user name and password (or "(invalid URL)"): where, never how to get in. */
export function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '(invalid URL)';
  }
}

/**
 * The configuration as flat `name: value` pairs for the start-up record (ServerStarted) and the
 * log: nested settings as `limits.maxFileBytes`, secrets as whether they are set, URLs without
 * credentials. Nothing in it lets anyone sign in or decrypt a ticket.
 */
/**
 * MFT_UPLOAD_SCAN_COMMAND (a JSON array of program and arguments, or one program path) or
 * MFT_UPLOAD_SCAN_URL, with MFT_UPLOAD_SCAN_TIMEOUT_SECONDS; neither: no scan.
 */
function uploadScan(env: Env): UploadScanConfig | null {
  const command = value(env, 'MFT_UPLOAD_SCAN_COMMAND');
  const url = value(env, 'MFT_UPLOAD_SCAN_URL');
  const timeoutMs = integer(env, 'MFT_UPLOAD_SCAN_TIMEOUT_SECONDS', 300, 1, 86_400) * 1000;
  if (command !== undefined && url !== undefined)
    throw new ConfigError(
      'MFT_UPLOAD_SCAN_URL',
      'set MFT_UPLOAD_SCAN_COMMAND or MFT_UPLOAD_SCAN_URL, not both',
    );
  if (url !== undefined) {
    if (!/^https?:\/\//.test(url))
      throw new ConfigError('MFT_UPLOAD_SCAN_URL', 'must be an http:// or https:// URL');
    return { kind: 'http', url, timeoutMs };
  }
  if (command === undefined) return null;
  let argv: unknown = [command];
  if (command.startsWith('[')) {
    try {
      argv = JSON.parse(command);
    } catch {
      throw new ConfigError('MFT_UPLOAD_SCAN_COMMAND', 'is not a JSON array of strings');
    }
  }
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string'))
    throw new ConfigError('MFT_UPLOAD_SCAN_COMMAND', 'must be a program path or a JSON array of strings');
  const [program, ...args] = argv as string[];
  if (!path.isAbsolute(program!))
    throw new ConfigError('MFT_UPLOAD_SCAN_COMMAND', 'the program must be an absolute path');
  return { kind: 'command', command: program!, args, timeoutMs };
}

/**
 * MFT_SMTP_URL, MFT_SMTP_FROM, MFT_SMTP_CA_FILE and MFT_SYSLOG_CA_FILE, checked here rather than when the senders
 * are made at start: a URL that does not parse, names another protocol or no host, a sender
 * that is not one plain address (the SMTP sender's own rule), a CA file that is not there (an
 * SMTP server or syslog collector whose certificate a private CA signs needs its CA's PEM).
 * The URL is never repeated in the message: it may hold the SMTP password.
 */
function notificationSettings(
  env: Env,
): Pick<Config, 'smtpUrl' | 'smtpFrom' | 'smtpCaFile' | 'syslogCaFile'> {
  const smtpUrl = value(env, 'MFT_SMTP_URL') ?? null;
  if (smtpUrl !== null) {
    const form = 'smtp://[user:pass@]host[:port][?tls=none] or smtps://[user:pass@]host[:port]';
    let parsed: URL;
    try {
      parsed = new URL(smtpUrl);
    } catch {
      throw new ConfigError('MFT_SMTP_URL', `is not a URL: expected ${form}`);
    }
    if ((parsed.protocol !== 'smtp:' && parsed.protocol !== 'smtps:') || parsed.hostname === '')
      throw new ConfigError('MFT_SMTP_URL', `expected ${form}`);
  }
  const smtpFrom = value(env, 'MFT_SMTP_FROM') ?? 'sluice@localhost';
  if (!PLAIN_ADDRESS.test(smtpFrom))
    throw new ConfigError('MFT_SMTP_FROM', `"${smtpFrom}" is not one plain address (local@domain)`);
  const [smtpCaFile, syslogCaFile] = ['MFT_SMTP_CA_FILE', 'MFT_SYSLOG_CA_FILE'].map((name) => {
    const file = value(env, name);
    if (file !== undefined && !existsSync(file)) throw new ConfigError(name, `no such file: ${file}`);
    return file;
  });
  return { smtpUrl, smtpFrom, smtpCaFile, syslogCaFile };
}

export function describeConfiguration(config: Config): Record<string, SettingValue> {
  const out: Record<string, SettingValue> = {};
  const visit = (prefix: string, value: unknown, name: string) => {
    if (SECRET_SETTINGS.has(name)) out[prefix] = value === undefined ? 'unset' : 'set';
    else if (URL_SETTINGS.has(name))
      out[prefix] = typeof value === 'string' ? withoutCredentials(value) : null;
    else if (value === undefined || value === null) out[prefix] = null;
    else if (Array.isArray(value)) out[prefix] = value.join(',');
    else if (typeof value === 'object')
      for (const [key, inner] of Object.entries(value)) visit(`${prefix}.${key}`, inner, key);
    else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
      out[prefix] = value;
    else out[prefix] = String(value);
  };
  for (const [key, value] of Object.entries(config)) visit(key, value, key);
  return out;
}
