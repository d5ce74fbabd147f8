/**
 * Runs the configured post-processing hook on a completed upload. A configuration that can
 * never work throws a HookError that is not retryable, before anything runs; on `signal` abort
 * the signal's reason is thrown.
 */
import { runCommandHook } from './command-hook.js';
import { type HookConfig, HookError, type HookFile, type HookVerdict, hookConfigProblems } from './hook.js';
import { runHttpHook } from './http-hook.js';

export { type HookConfig, HookError, type HookFile, type HookVerdict, hookConfigProblems } from './hook.js';

export function runHook(config: HookConfig, file: HookFile, signal?: AbortSignal): Promise<HookVerdict> {
  const problems = hookConfigProblems(config);
  if (problems.length > 0) {
    return Promise.reject(new HookError(`invalid hook: ${problems.join('; ')}`, { retryable: false }));
  }
  return config.kind === 'command' ? runCommandHook(config, file, signal) : runHttpHook(config, file, signal);
}
