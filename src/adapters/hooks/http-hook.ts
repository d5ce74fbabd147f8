/**
 * A hook run as an HTTP service: a POST of JSON `{virtualPath, userName, size, sha256}` and a
 * 200 reply of JSON `{verdict: 'clean' | 'rejected', reason?}`. The bytes are not sent: the
 * scanner is expected to share the storage or fetch the file itself, so a large upload is not
 * copied through Sluice again. Any other status (redirects are not followed), a reply that is
 * not that JSON, a refused connection or the time running out is no answer (HookError).
 */
import { boundedReason, type HookConfig, HookError, type HookFile, type HookVerdict } from './hook.js';

/** Longest reply read: a verdict is a few hundred bytes. */
const MAX_REPLY_BYTES = 64 * 1024;

async function readBounded(response: Response): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.length;
    if (length > MAX_REPLY_BYTES) {
      await reader.cancel();
      throw new HookError(`replied more than ${MAX_REPLY_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function verdictOf(text: string): HookVerdict {
  let reply: unknown;
  try {
    reply = JSON.parse(text);
  } catch {
    throw new HookError(`replied what is not JSON: ${boundedReason(text)}`);
  }
  const { verdict, reason } = (typeof reply === 'object' && reply !== null ? reply : {}) as Record<
    string,
    unknown
  >;
  if (verdict !== 'clean' && verdict !== 'rejected') {
    throw new HookError(`replied no verdict 'clean' or 'rejected': ${boundedReason(text)}`);
  }
  if (reason !== undefined && typeof reason !== 'string')
    throw new HookError('replied a reason that is not text');
  return { verdict, reason: boundedReason(reason ?? '') || verdict };
}

export async function runHttpHook(
  config: Extract<HookConfig, { kind: 'http' }>,
  file: HookFile,
  signal?: AbortSignal,
): Promise<HookVerdict> {
  signal?.throwIfAborted();
  const timeout = AbortSignal.timeout(config.timeoutMs);
  const name = `hook ${config.url}`;
  try {
    const response = await fetch(config.url, {
      method: 'POST',
      headers: { ...config.headers, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        virtualPath: file.virtualPath,
        userName: file.userName,
        size: file.size,
        sha256: file.sha256,
      }),
      redirect: 'manual',
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    const text = await readBounded(response);
    if (response.status !== 200) {
      throw new HookError(`answered ${response.status}: ${boundedReason(text)}`);
    }
    return verdictOf(text);
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    if (timeout.aborted) throw new HookError(`${name} gave no answer within ${config.timeoutMs} ms`);
    if (error instanceof HookError) throw new HookError(`${name} ${error.message}`);
    // fetch's own message is "fetch failed"; what happened is in its cause.
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new HookError(`${name} could not be reached: ${detail}`, { cause: error });
  }
}
