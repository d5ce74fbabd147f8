/**
 * Bounded pipelining for SFTP: one request per round trip would make a transfer as slow as the
 * latency allows, so up to `limit` steps run at once (as ssh2's fastPut does), and their results
 * are handed over in the order the steps were started, which is what a running hash needs. On a
 * failure every step already started is waited for, so none rejects unobserved.
 */
export async function pipelined<T>(
  steps: number,
  limit: number,
  start: (step: number) => Promise<T>,
  take: (result: T, step: number) => void,
): Promise<void> {
  const queue: Promise<T>[] = [];
  let started = 0;
  try {
    for (let taken = 0; taken < steps; taken++) {
      while (started < steps && queue.length < limit) queue.push(start(started++));
      take(await queue.shift()!, taken);
    }
  } catch (error) {
    await Promise.allSettled(queue);
    throw error;
  }
}

/** Byte ranges of `chunk` bytes covering [from, to). */
export function chunks(from: number, to: number, chunk: number) {
  const count = Math.ceil((to - from) / chunk);
  return {
    count,
    at: (step: number) => {
      const position = from + step * chunk;
      return { position, length: Math.min(chunk, to - position) };
    },
  };
}
