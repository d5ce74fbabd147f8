/**
 * The real Sluice for the benchmarks that measure it whole: `node --import tsx src/main.ts`
 * (what `npm start` runs) as a child process with its embedded PostgreSQL, its own data
 * directory, free ports on 127.0.0.1 and its log in a file; ready when /readyz answers 200.
 * Its CPU (node, and PostgreSQL with its backends), memory, events and log are read here, and
 * stopping it also stops a PostgreSQL it left behind. One way for every benchmark.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort } from '../../test/support/free-port.js';
import { log } from './common.js';
import { alive, cpuOf, cpuOfLiveChildren, cpuWithReaped, sleep, waitForExit } from './processes.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const READY_MS = 120_000;

export interface SluiceOptions {
  /** The benchmark's directory: Sluice's data goes in `<work>/sluice`, its log in `<work>/sluice.log`. */
  readonly work: string;
  /** More settings; they win over the data directory, ports, address, password and log level set here. */
  readonly env?: Readonly<Record<string, string>>;
  /** More node flags, e.g. `--trace-gc` (output in the log). */
  readonly nodeOptions?: readonly string[];
  /** Run under `node --cpu-prof`, the profile written to this directory when Sluice stops. */
  readonly cpuProf?: string | undefined;
}

/** A JSON request; rejects on a status that is not 2xx; resolves with the parsed body (undefined when empty). */
export async function api<T>(
  base: string,
  method: string,
  route: string,
  body?: unknown,
  bearer = '',
): Promise<T> {
  const response = await fetch(`${base}${route}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(bearer === '' ? {} : { authorization: `Bearer ${bearer}` }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${text}`);
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

export class SluiceProcess {
  private stopped: Promise<void> | undefined;

  private constructor(
    readonly child: ChildProcess,
    readonly dataDir: string,
    readonly logFile: string,
    private readonly logStream: WriteStream,
    /** `http://127.0.0.1:<port>` */
    readonly base: string,
    readonly sftpPort: number,
    readonly env: Readonly<Record<string, string>>,
  ) {}

  /** Starts Sluice and resolves once /readyz answers 200; rejects with its log if it exits or is not ready in 120 s. */
  static async start(options: SluiceOptions): Promise<SluiceProcess> {
    const dataDir = path.join(options.work, 'sluice');
    await mkdir(dataDir);
    await chmod(dataDir, 0o755); // the embedded PostgreSQL runs as user postgres
    const settings: Record<string, string> = {
      MFT_DATA_DIR: dataDir,
      MFT_HTTP_PORT: String(await freePort()),
      MFT_SFTP_PORT: String(await freePort()),
      MFT_PG_PORT: String(await freePort()),
      MFT_FTPS_PORT: String(await freePort()),
      MFT_FTPS_IMPLICIT_PORT: String(await freePort()),
      MFT_BIND_ADDRESS: '127.0.0.1',
      MFT_ADMIN_PASSWORD: randomBytes(12).toString('hex'),
      MFT_LOG_LEVEL: process.env.BENCH_SLUICE_LOG_LEVEL || 'warn',
      ...options.env,
    };
    // Only these settings: none of the caller's own MFT_ variables.
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MFT_')) env[k] = v;
    Object.assign(env, settings);
    const nodeArgs = ['--import', 'tsx', ...(options.nodeOptions ?? [])];
    if (options.cpuProf) {
      await mkdir(options.cpuProf, { recursive: true });
      nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProf}`);
    }
    const logFile = path.join(options.work, 'sluice.log');
    const out = createWriteStream(logFile);
    await once(out, 'open');
    const child = spawn(process.execPath, [...nodeArgs, 'src/main.ts'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', out, out],
    });
    const sluice = new SluiceProcess(
      child,
      dataDir,
      logFile,
      out,
      `http://127.0.0.1:${settings.MFT_HTTP_PORT}`,
      Number(settings.MFT_SFTP_PORT),
      settings,
    );
    const deadline = Date.now() + READY_MS;
    for (;;) {
      if (child.exitCode !== null) {
        throw new Error(`Sluice exited with ${child.exitCode}:\n${await readFile(logFile, 'utf8')}`);
      }
      const ready = await fetch(`${sluice.base}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) return sluice;
      if (Date.now() > deadline) {
        await sluice.stop();
        throw new Error(`Sluice not ready after ${READY_MS / 1000} s:\n${await readFile(logFile, 'utf8')}`);
      }
      await sleep(250);
    }
  }

  get adminPassword(): string {
    return this.env.MFT_ADMIN_PASSWORD!;
  }

  /** A request to Sluice's API (see `api`). */
  api<T>(method: string, route: string, body?: unknown, bearer = ''): Promise<T> {
    return api<T>(this.base, method, route, body, bearer);
  }

  /** A session token of `userName` (OpenImmutable; application 1 is the admin API, 2 the HTTP file API). */
  async signIn(userName: string, password: string, applicationId: number): Promise<string> {
    const session = await this.api<{ token: string }>('POST', '/api/v1/sessions/open-immutable', {
      userName,
      password,
      applicationId,
    });
    return session.token;
  }

  /** The admin's token (application 1). */
  adminToken(): Promise<string> {
    return this.signIn('admin', this.adminPassword, 1);
  }

  /** Where a file of `userName`'s home folder is on this machine's disk. */
  local(userName: string, file: string): string {
    return path.join(this.dataDir, 'files', userName, file);
  }

  /** CPU seconds used so far: the node process, and its PostgreSQL (postmaster, reaped and live backends). */
  async cpu(): Promise<{ total: number; pg: number }> {
    const node = await cpuOf(this.child.pid!);
    const postmaster = await this.postmasterPid();
    if (!(postmaster > 0)) return { total: node, pg: 0 };
    const pgCpu = (await cpuWithReaped(postmaster)) + (await cpuOfLiveChildren(postmaster));
    return { total: node + pgCpu, pg: pgCpu };
  }

  /** Resident memory of the node process, MiB (a leak shows as growth between cases). */
  async rssMib(): Promise<number> {
    const status = await readFile(`/proc/${this.child.pid}/status`, 'utf8').catch(() => '');
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) / 1024;
  }

  private async postmaster(): Promise<string[]> {
    const text = await readFile(path.join(this.dataDir, 'pg', 'postmaster.pid'), 'utf8').catch(() => '');
    return text.split('\n');
  }

  private async postmasterPid(): Promise<number> {
    return Number((await this.postmaster())[0]);
  }

  /** A connected client of Sluice's embedded PostgreSQL (user and database sluice, password in pg-password). */
  async pgClient(): Promise<pg.Client> {
    const password = (await readFile(path.join(this.dataDir, 'pg-password'), 'utf8')).trim();
    const client = new pg.Client({
      host: '127.0.0.1',
      port: Number((await this.postmaster())[3]),
      user: 'sluice',
      password,
      database: 'sluice',
    });
    client.on('error', () => {}); // a server going away fails the query instead
    await client.connect();
    return client;
  }

  /** One query on its own connection. */
  async query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    const client = await this.pgClient();
    try {
      return (await client.query<R>(text, values)).rows;
    } finally {
      await client.end();
    }
  }

  /** Events in the store by type, read straight from PostgreSQL. */
  async eventsByType(): Promise<Map<string, number>> {
    const rows = await this.query<{ type: string; n: string }>(
      'SELECT type, count(*) AS n FROM events GROUP BY type ORDER BY type',
    );
    return new Map(rows.map((r) => [r.type, Number(r.n)]));
  }

  /** After a failure: the end of the log, before it is removed. */
  async logTail(lines = 40): Promise<void> {
    const text = await readFile(this.logFile, 'utf8').catch(() => '');
    const tail = text.trimEnd().split('\n').slice(-lines);
    if (text) log(`Sluice log (last ${tail.length} lines):\n${tail.join('\n')}`);
  }

  /** SIGTERM, SIGKILL after 60 s, then a fast shutdown of a PostgreSQL it left running; idempotent. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      const child = this.child;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        if (!(await waitForExit(child, 60_000))) {
          log('Sluice did not stop within 60 s: killing it');
          child.kill('SIGKILL');
          await waitForExit(child, 5_000);
        }
      }
      const postmaster = await this.postmasterPid();
      if (postmaster > 0 && alive(postmaster)) {
        try {
          process.kill(postmaster, 'SIGINT'); // fast shutdown
        } catch {}
        for (let i = 0; i < 100 && alive(postmaster); i++) await sleep(100);
      }
      this.logStream.end();
    })();
    return this.stopped;
  }
}
