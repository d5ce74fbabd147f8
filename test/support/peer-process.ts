/**
 * A test peer run as a child process (a Python receiver, rsyslogd) whose stdout says what it
 * received, one line each. Waiting is by event, never by sleeping: `waitForLines` resolves when
 * enough lines have arrived and fails, with the peer's stderr, if it exits first or the
 * generous bound passes.
 */
import { type ChildProcess, spawn } from 'node:child_process';

export const PEER_WAIT_MS = 30_000;

export interface PeerProcess {
  readonly child: ChildProcess;
  /** Every complete stdout line so far. */
  readonly lines: string[];
  readonly stderr: () => string;
  /** Resolves with `lines` once at least `count` lines arrived. */
  waitForLines(count: number): Promise<string[]>;
  stop(): Promise<void>;
}

export function spawnPeer(command: string, args: string[]): PeerProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  let partial = '';
  let exited = false;
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    wake();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exit = new Promise<void>((resolve) =>
    child.on('exit', () => {
      exited = true;
      wake();
      resolve();
    }),
  );
  return {
    child,
    lines,
    stderr: () => stderr,
    waitForLines(count) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (lines.length >= count) done(() => resolve(lines));
          else if (exited) done(() => reject(new Error(`${command} exited: ${stderr}`)));
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`${command}: ${lines.length} of ${count} lines; ${stderr}`))),
          PEER_WAIT_MS,
        );
        const done = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (!exited) child.kill('SIGTERM');
      await exit;
    },
  };
}
