/**
 * Processes the benchmarks start and measure: running a command, CPU seconds from /proc (of a
 * process with its reaped children, or of its live children), waiting for an exit.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function run(command: string, args: readonly string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Fields of /proc/<pid>/stat, numbered as in proc(5) (14 utime, 15 stime, 16 cutime, 17 cstime). */
export async function procStat(pid: number | 'self'): Promise<string[] | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  if (!text) return undefined;
  // comm (field 2) may contain spaces: split after its closing parenthesis; index 0 is field 3.
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

function ticks(fields: readonly string[] | undefined, numbers: readonly number[]): number {
  if (!fields) return 0;
  return numbers.reduce((sum, n) => sum + Number(fields[n - 3] ?? 0), 0);
}

const CLOCK_TICKS = (() => {
  try {
    return Number(run('getconf', ['CLK_TCK']).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds of a process alone (utime + stime). */
export async function cpuOf(pid: number | 'self'): Promise<number> {
  return ticks(await procStat(pid), [14, 15]) / CLOCK_TICKS;
}

/** CPU seconds of a process and of all its children that have exited and were waited for. */
export async function cpuWithReaped(pid: number | 'self'): Promise<number> {
  return ticks(await procStat(pid), [14, 15, 16, 17]) / CLOCK_TICKS;
}

/** CPU seconds of a process's live children (utime + stime). */
export async function cpuOfLiveChildren(parent: number): Promise<number> {
  let sum = 0;
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = await procStat(Number(entry));
    if (fields && Number(fields[1]) === parent) sum += ticks(fields, [14, 15]);
  }
  return sum / CLOCK_TICKS;
}

/** Whether the child exited within `ms`; leaves no timer behind (it would hold the process). */
export async function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([once(child, 'exit').then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs a client process to its end; resolves with its stdout, rejects with its stderr if it failed. */
export async function runClient(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) {
    const tail = stderr.trim().split('\n').slice(-3).join(' | ');
    throw new Error(`${command} failed (exit ${code}): ${tail || stdout.slice(-300)}`);
  }
  return stdout;
}
