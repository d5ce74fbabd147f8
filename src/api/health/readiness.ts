/** Ready = the database answers and no projection is failing or further behind than `maxLag`. */
import type { Readiness } from './schemas.js';

export interface ReadinessSources {
  readonly maxLag: number;
  readonly pingDatabase: () => Promise<void>;
  readonly headPosition: () => Promise<number>;
  readonly projections: () => ReadonlyArray<{
    name: string;
    position: number;
    lastError?: string | undefined;
  }>;
}

const PING_TIMEOUT_MS = 2000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function readinessCheck(sources: ReadinessSources): () => Promise<Readiness> {
  return async () => {
    let head = 0;
    let database: Readiness['database'] = 'ok';
    try {
      await withTimeout(sources.pingDatabase(), PING_TIMEOUT_MS);
      head = await withTimeout(sources.headPosition(), PING_TIMEOUT_MS);
    } catch {
      database = 'unreachable';
    }
    const projections = sources.projections().map((p) => ({
      name: p.name,
      position: p.position,
      lag: Math.max(0, head - p.position),
      ...(p.lastError ? { error: p.lastError } : {}),
    }));
    const ready =
      database === 'ok' && projections.every((p) => p.error === undefined && p.lag <= sources.maxLag);
    return {
      status: ready ? 'ready' : 'not-ready',
      database,
      headPosition: head,
      maxLag: sources.maxLag,
      projections,
    };
  };
}
