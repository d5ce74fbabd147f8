/**
 * The command hook with real programs: a clamdscan-like shell script that rejects the EICAR
 * test file, and scripts that fail in each way a scanner can (other exit codes, a crash, no
 * answer in time, too much output), plus what the program may and may not see.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type HookConfig, HookError, type HookFile, runHook } from '../../src/adapters/hooks/run-hook.js';
import { assertNoAnswer, commandScanner, EICAR, shellScript } from '../support/scanners.js';

describe('command hook', () => {
  let dir: string;
  let scanner: string;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-hook-'));
    scanner = await commandScanner(dir);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function upload(name: string, content: string): Promise<HookFile> {
    const localPath = path.join(dir, name);
    await writeFile(localPath, content);
    return {
      localPath,
      virtualPath: `/in/${name}`,
      userName: 'alice',
      size: content.length,
      sha256: 'ab'.repeat(32),
    };
  }

  const command = (file: string, timeoutMs = 30_000): Extract<HookConfig, { kind: 'command' }> => ({
    kind: 'command',
    command: file,
    args: [],
    timeoutMs,
  });

  it('calls a clean file clean, with the scanner first line as the reason', async () => {
    const file = await upload('report.txt', 'quarterly figures');
    assert.deepEqual(await runHook(command(scanner), file), {
      verdict: 'clean',
      reason: `${file.localPath}: OK`,
    });
  });

  it('rejects the EICAR test file (exit 1), the first stdout line as the reason', async () => {
    const file = await upload('eicar.com', EICAR);
    assert.deepEqual(await runHook(command(scanner), file), {
      verdict: 'rejected',
      reason: `${file.localPath}: Eicar-Test-Signature FOUND`,
    });
  });

  it('passes the arguments before the path, without a shell, and only its own environment', async () => {
    process.env.SLUICE_TEST_SECRET = 'database password';
    const echo = await shellScript(
      dir,
      'echo.sh',
      `echo "$#|$1|$2|$SLUICE_FILE_PATH|$SLUICE_VIRTUAL_PATH|$SLUICE_USER|$SLUICE_SHA256|$SLUICE_SIZE|\${SLUICE_TEST_SECRET:-unset}"`,
    );
    const file = await upload('$(touch pwned); x', 'abc');
    const verdict = await runHook({ ...command(echo), args: ['--fdpass'] }, file);
    assert.equal(
      verdict.reason,
      `2|--fdpass|${file.localPath}|${file.localPath}|${file.virtualPath}|alice|${file.sha256}|3|unset`,
    );
    await assert.rejects(readFile(path.join(dir, 'pwned')));
  });

  it('bounds the reason to 500 characters', async () => {
    const long = await shellScript(dir, 'long.sh', `printf '%02000d\\n' 7; exit 1`);
    const verdict = await runHook(command(long), await upload('a', 'a'));
    assert.equal(verdict.verdict, 'rejected');
    assert.equal(verdict.reason, '0'.repeat(500));
  });

  it('takes any other exit code as no answer, with what the program said', async () => {
    const file = await upload('gone', 'x');
    await rm(file.localPath);
    await assertNoAnswer(runHook(command(scanner), file), /exited with 2: .*cannot read/);
  });

  it('takes a crash as no answer', async () => {
    const crash = await shellScript(dir, 'crash.sh', 'kill -SEGV $$');
    await assertNoAnswer(runHook(command(crash), await upload('b', 'b')), /killed by SIGSEGV/);
  });

  // The foreground sleep holds the output pipe open: were only the script killed, the hook would
  // wait for it (the test's timeout). The background one would outlive it, seen in /proc.
  it('gives up when the time runs out and kills what the program started', { timeout: 60_000 }, async () => {
    const pidFile = path.join(dir, 'sleeper.pid');
    const slow = await shellScript(
      dir,
      'slow.sh',
      `sleep 300 >/dev/null 2>&1 & echo $! > ${pidFile}; sleep 300`,
    );
    await assertNoAnswer(runHook(command(slow, 300), await upload('c', 'c')), /no answer within 300 ms/);
    const pid = (await readFile(pidFile, 'utf8')).trim();
    const state = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => 'gone');
    assert.ok(state === 'gone' || state.split(' ')[2] === 'Z', `sleep ${pid} still runs: ${state}`);
  });

  it('takes a program that cannot start as no answer', async () => {
    await assertNoAnswer(
      runHook(command(path.join(dir, 'missing')), await upload('d', 'd')),
      /could not start/,
    );
  });

  it('refuses a configuration that can never work, not retryable', async () => {
    const file = await upload('e', 'e');
    for (const config of [command('', 1000), command(scanner, 0), command(scanner, 1.5)]) {
      await assert.rejects(runHook(config, file), (error) => error instanceof HookError && !error.retryable);
    }
  });

  it('throws the abort reason when the signal is aborted', async () => {
    const reason = new Error('shutting down');
    await assert.rejects(
      runHook(command(scanner), await upload('f', 'f'), AbortSignal.abort(reason)),
      (e) => e === reason,
    );
  });
});
