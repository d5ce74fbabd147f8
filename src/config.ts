/**
 * Configuration from the environment, validated once at start. A bad value stops Sluice with
 * one line naming the variable (`ConfigError`), never a stack trace.
 */
import path from 'node:path';

export interface Config {
  /** Where the embedded database and the files live. */
  readonly dataDir: string;
  readonly filesDir: string;
  readonly bindAddress: string;
  readonly httpPort: number;
  readonly sftpPort: number;
  readonly sftpMaxConnectionsPerUser: number;
  readonly sftpMaxHandlesPerConnection: number;
  /** External PostgreSQL for the event store and the read model; embedded when absent. */
  readonly databaseUrl: string | undefined;
  /** Port of the embedded PostgreSQL (127.0.0.1 only). */
  readonly embeddedPgPort: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  /** /readyz fails while any projection is more than this many events behind the log. */
  readonly readyMaxLag: number;
  /** Password of the `admin` user made on first start; generated and printed once when unset. */
  readonly adminPassword: string | undefined;
  /** Secret shared with integrators for sign-in tickets; ticket calls are refused when unset. */
  readonly ticketSecret: string | undefined;
  readonly ticketMaxAgeMs: number;
  readonly ticketClockSkewMs: number;
  /** When set, tickets must name this site. */
  readonly siteName: string | undefined;
  /** How often immutable sessions past their 48 hours are recorded as expired. */
  readonly sessionExpiryIntervalMs: number;
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

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

export function loadConfig(env: Env = process.env): Config {
  const dataDir = path.resolve(value(env, 'MFT_DATA_DIR') ?? './data');
  const logLevel = value(env, 'MFT_LOG_LEVEL') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError('MFT_LOG_LEVEL', `expected one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  if (value(env, 'EVENTSTORE_URL') !== undefined) {
    throw new ConfigError(
      'EVENTSTORE_URL',
      'the KurrentDB event store is not available in this version; unset it to keep events in PostgreSQL',
    );
  }
  const config: Config = {
    dataDir,
    filesDir: path.join(dataDir, 'files'),
    bindAddress: value(env, 'MFT_BIND_ADDRESS') ?? '0.0.0.0',
    httpPort: port(env, 'MFT_HTTP_PORT', 8080),
    sftpPort: port(env, 'MFT_SFTP_PORT', 2222),
    sftpMaxConnectionsPerUser: integer(env, 'MFT_SFTP_MAX_CONNECTIONS_PER_USER', 10, 1, 10_000),
    sftpMaxHandlesPerConnection: integer(env, 'MFT_SFTP_MAX_HANDLES', 256, 1, 100_000),
    databaseUrl: postgresUrl(env, 'DATABASE_URL'),
    embeddedPgPort: port(env, 'MFT_PG_PORT', 54329),
    logLevel: logLevel as Config['logLevel'],
    readyMaxLag: integer(env, 'MFT_READY_MAX_LAG', 1000, 0, Number.MAX_SAFE_INTEGER),
    adminPassword: secret(env, 'MFT_ADMIN_PASSWORD', 8),
    ticketSecret: secret(env, 'MFT_TICKET_SECRET', 16),
    ticketMaxAgeMs: integer(env, 'MFT_TICKET_MAX_AGE_SECONDS', 300, 1, 86_400) * 1000,
    ticketClockSkewMs: integer(env, 'MFT_TICKET_CLOCK_SKEW_SECONDS', 60, 0, 3600) * 1000,
    siteName: value(env, 'MFT_SITE_NAME'),
    sessionExpiryIntervalMs: integer(env, 'MFT_SESSION_EXPIRY_INTERVAL_SECONDS', 60, 1, 86_400) * 1000,
  };
  if (config.httpPort === config.sftpPort) {
    throw new ConfigError('MFT_SFTP_PORT', `must differ from MFT_HTTP_PORT (${config.httpPort})`);
  }
  return config;
}
