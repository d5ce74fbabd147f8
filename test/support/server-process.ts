/**
 * Runs the real server (`node --import tsx src/main.ts`, what `npm start` runs) as a child
 * process with its own data directory and ports, and reads its JSON log lines.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './free-port.js';

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly baseUrl: string;
  readonly dataDir: string;
  readonly env: Record<string, string>;
  /** Every stdout line so far (pino JSON). */
  readonly lines: string[];
  readonly stderr: () => string;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

const ROOT = path.resolve(import.meta.dirname, '..', '..');

export async function makeDataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-data-'));
  await chmod(dir, 0o755);
  return dir;
}

/** Spawns the server; with `waitForListening` (default) resolves once it logs that it is ready. */
export async function spawnServer(
  options: {
    env?: Record<string, string>;
    dataDir?: string;
    waitForListening?: boolean;
    timeoutMs?: number;
  } = {},
): Promise<ServerProcess> {
  const dataDir = options.dataDir ?? (await makeDataDir());
  const httpPort = await freePort();
  const env: Record<string, string> = {
    MFT_DATA_DIR: dataDir,
    MFT_HTTP_PORT: String(httpPort),
    MFT_BIND_ADDRESS: '127.0.0.1',
    MFT_PG_PORT: String(await freePort()),
    MFT_SFTP_PORT: String(await freePort()),
    MFT_FTPS_PORT: String(await freePort()),
    MFT_FTPS_IMPLICIT_PORT: String(await freePort()),
    ...options.env,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  let partial = '';
  const waiters: Array<() => void> = [];
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts.filter(Boolean));
    for (const w of waiters.splice(0)) w();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const server: ServerProcess = {
    child,
    baseUrl: `http://127.0.0.1:${env.MFT_HTTP_PORT}`,
    dataDir,
    env,
    lines,
    stderr: () => stderr,
    exited,
    async stop(signal = 'SIGINT') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  if (options.waitForListening === false) return server;

  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let exitedEarly = false;
  void exited.then(() => {
    exitedEarly = true;
    for (const w of waiters.splice(0)) w();
  });
  while (!lines.some((l) => l.includes('Sluice is ready'))) {
    if (exitedEarly) throw new Error(`server exited during start-up: ${stderr}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(
        `server did not start in time; stderr: ${stderr}; stdout: ${lines.slice(-5).join('\n')}`,
      );
    }
    await new Promise<void>((resolve) => {
      waiters.push(resolve);
      setTimeout(resolve, 500);
    });
  }
  return server;
}
