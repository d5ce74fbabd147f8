/**
 * The HTTP hook against a real scanner service (Python http.server) that reads the file from
 * the storage it shares with Sluice: verdicts, what is sent, and each reply that is no answer.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type HookConfig, HookError, type HookFile, runHook } from '../../src/adapters/hooks/run-hook.js';
import { freePort } from '../support/free-port.js';
import { assertNoAnswer, EICAR, type HttpScanner, startHttpScanner } from '../support/scanners.js';

describe('HTTP hook', () => {
  let dir: string;
  let storage: string;
  let scanner: HttpScanner;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-hook-http-'));
    storage = path.join(dir, 'files');
    await mkdir(path.join(storage, 'in'), { recursive: true });
    scanner = await startHttpScanner(dir, storage);
  });

  after(async () => {
    await scanner?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function upload(name: string, content: string): Promise<HookFile> {
    const localPath = path.join(storage, 'in', name);
    await writeFile(localPath, content);
    return {
      localPath,
      virtualPath: `/in/${name}`,
      userName: 'bob',
      size: content.length,
      sha256: 'cd'.repeat(32),
    };
  }

  const http = (route: string, timeoutMs = 30_000): HookConfig => ({
    kind: 'http',
    url: `${scanner.url}${route}`,
    timeoutMs,
    headers: { 'X-Token': 'scanner-secret' },
  });

  it('posts the file description as JSON (not the bytes), with the configured headers', async () => {
    const file = await upload('report.txt', 'figures');
    const verdict = await runHook(http('/scan'), file);
    assert.equal(verdict.verdict, 'clean');
    assert.deepEqual(JSON.parse(verdict.reason), {
      request: { virtualPath: file.virtualPath, userName: 'bob', size: 7, sha256: file.sha256 },
      token: 'scanner-secret',
      type: 'application/json',
    });
  });

  it('takes the scanner rejection of the EICAR test file', async () => {
    assert.deepEqual(await runHook(http('/scan'), await upload('eicar.com', EICAR)), {
      verdict: 'rejected',
      reason: 'Eicar-Test-Signature FOUND',
    });
  });

  it('takes another status, a redirect, a reply that is not JSON or has no verdict as no answer', async () => {
    const file = await upload('a', 'a');
    await assertNoAnswer(runHook(http('/status-500'), file), /answered 500: scanner broken/);
    await assertNoAnswer(runHook(http('/redirect'), file), /answered 302/);
    await assertNoAnswer(runHook(http('/not-json'), file), /not JSON: all good/);
    await assertNoAnswer(runHook(http('/no-verdict'), file), /no verdict/);
  });

  it('gives up when the time runs out', async () => {
    await assertNoAnswer(runHook(http('/slow', 300), await upload('b', 'b')), /no answer within 300 ms/);
  });

  it('takes a scanner nobody listens for as no answer', async () => {
    const config: HookConfig = {
      kind: 'http',
      url: `http://127.0.0.1:${await freePort()}/scan`,
      timeoutMs: 30_000,
    };
    await assertNoAnswer(runHook(config, await upload('c', 'c')), /could not be reached: .*ECONNREFUSED/);
  });

  it('refuses a URL that can never work, not retryable', async () => {
    const file = await upload('d', 'd');
    for (const url of ['not a url', 'ftp://127.0.0.1/scan']) {
      await assert.rejects(
        runHook({ kind: 'http', url, timeoutMs: 1000 }, file),
        (error) => error instanceof HookError && !error.retryable,
      );
    }
  });

  it('throws the abort reason when the signal is aborted', async () => {
    const reason = new Error('shutting down');
    await assert.rejects(
      runHook(http('/scan'), await upload('e', 'e'), AbortSignal.abort(reason)),
      (e) => e === reason,
    );
  });
});
