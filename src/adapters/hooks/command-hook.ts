/**
 * A hook run as a local program, by the clamdscan convention: exit 0 = clean, exit 1 =
 * rejected (the first line of standard output is the reason, as clamdscan prints
 * "<path>: <signature> FOUND"), any other exit, a signal or the time running out = no answer
 * (HookError). The program is run directly, never through a shell, with the file's path as its
 * last argument, so no name can inject anything. Its environment is only PATH, HOME, LANG, TZ and
 * the SLUICE_* variables describing the file: Sluice's own (database URL, admin password) stay
 * out. It runs in its own process group, and the whole group is killed when it exits or times
 * out, so nothing it started outlives the step or holds its output open.
 */
import { spawn } from 'node:child_process';
import { boundedReason, type HookConfig, HookError, type HookFile, type HookVerdict } from './hook.js';

/** Output kept: enough for a reason line and an error message, bounded whatever the hook prints. */
const KEEP_BYTES = 64 * 1024;
const PASSED_THROUGH = ['PATH', 'HOME', 'LANG', 'TZ'];

function hookEnvironment(file: HookFile): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of PASSED_THROUGH) if (process.env[name] !== undefined) env[name] = process.env[name];
  return {
    ...env,
    SLUICE_FILE_PATH: file.localPath,
    SLUICE_VIRTUAL_PATH: file.virtualPath,
    SLUICE_USER: file.userName,
    SLUICE_SHA256: file.sha256,
    SLUICE_SIZE: String(file.size),
  };
}

function collector() {
  const chunks: Buffer[] = [];
  let kept = 0;
  return {
    add(chunk: Buffer) {
      if (kept >= KEEP_BYTES) return;
      chunks.push(chunk.subarray(0, KEEP_BYTES - kept));
      kept += Math.min(chunk.length, KEEP_BYTES - kept);
    },
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // The group is already gone.
  }
}

const firstLine = (text: string) => text.trimStart().split('\n', 1)[0] ?? '';

export async function runCommandHook(
  config: Extract<HookConfig, { kind: 'command' }>,
  file: HookFile,
  signal?: AbortSignal,
): Promise<HookVerdict> {
  signal?.throwIfAborted();
  return new Promise((resolve, reject) => {
    const name = `hook ${config.command}`;
    const child = spawn(config.command, [...config.args, file.localPath], {
      env: hookEnvironment(file),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      shell: false,
    });
    const stdout = collector();
    const stderr = collector();
    child.stdout.on('data', stdout.add);
    child.stderr.on('data', stderr.add);
    let stopped: unknown;
    const stop = (why: unknown) => {
      stopped ??= why;
      killGroup(child.pid);
    };
    const timer = setTimeout(
      () => stop(new HookError(`${name} gave no answer within ${config.timeoutMs} ms`)),
      config.timeoutMs,
    );
    const onAbort = () => stop(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('exit', () => killGroup(child.pid));
    child.on('error', (error) => {
      // Spawning failed (no such program, not executable): 'close' follows.
      stopped ??= new HookError(`${name} could not start: ${error.message}`, { cause: error });
    });
    child.on('close', (code, exitSignal) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (stopped !== undefined) return reject(stopped);
      const out = boundedReason(firstLine(stdout.text()));
      if (code === 0) return resolve({ verdict: 'clean', reason: out || 'clean' });
      if (code === 1) return resolve({ verdict: 'rejected', reason: out || `${name} rejected the file` });
      const how = exitSignal ? `was killed by ${exitSignal}` : `exited with ${code}`;
      const detail = boundedReason(stderr.text()) || out;
      reject(new HookError(`${name} ${how}${detail ? `: ${detail}` : ''}`));
    });
  });
}
