/**
 * A post-processing hook: a step run on a completed upload (an antivirus scan and the like) that
 * says whether the file is clean or rejected. Two kinds, so any scanner fits without code: a
 * local command (the clamdscan convention of exit codes) or an HTTP service. A hook that cannot
 * answer (timed out, crashed, said something else) throws a HookError, retryable: the file is
 * neither clean nor rejected until a hook answers, and the caller decides how often to ask.
 */

export type HookConfig =
  | {
      readonly kind: 'command';
      /** The program to run (a path; run directly, never through a shell). */
      readonly command: string;
      /** Arguments before the file's path, which is always appended as the last one. */
      readonly args: readonly string[];
      readonly timeoutMs: number;
    }
  | {
      readonly kind: 'http';
      readonly url: string;
      readonly timeoutMs: number;
      readonly headers?: Readonly<Record<string, string>>;
    };

export interface HookFile {
  /** Where the bytes are on this machine (a command hook gets this path). */
  readonly localPath: string;
  /** The file's name as its users see it. */
  readonly virtualPath: string;
  readonly userName: string;
  readonly size: number;
  readonly sha256: string;
}

export interface HookVerdict {
  readonly verdict: 'clean' | 'rejected';
  readonly reason: string;
}

/** The longest reason kept: it ends up in events and views. */
export const MAX_REASON = 500;

export class HookError extends Error {
  /** False only for a configuration that can never work; every failure to answer is retryable. */
  readonly retryable: boolean;

  constructor(message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'HookError';
    this.retryable = options.retryable ?? true;
  }
}

/** Trimmed and bounded to MAX_REASON characters. */
export function boundedReason(text: string): string {
  return [...text.trim()].slice(0, MAX_REASON).join('');
}

/** Every reason the configuration cannot work, empty when it may. */
export function hookConfigProblems(config: HookConfig): string[] {
  const problems: string[] = [];
  if (!Number.isSafeInteger(config.timeoutMs) || config.timeoutMs <= 0) {
    problems.push('timeoutMs must be a positive whole number of milliseconds');
  }
  if (config.kind === 'command') {
    if (config.command === '' || config.command.includes('\0')) problems.push('command is empty or invalid');
    if (config.args.some((arg) => arg.includes('\0'))) problems.push('an argument holds a NUL character');
    return problems;
  }
  let url: URL | undefined;
  try {
    url = new URL(config.url);
  } catch {
    problems.push(`url ${JSON.stringify(config.url)} is not a URL`);
  }
  if (url && url.protocol !== 'http:' && url.protocol !== 'https:')
    problems.push('url must be http or https');
  return problems;
}
