/**
 * Arrival-order guarantees between pipelined requests, without serialising everything.
 *
 * Each request claims lanes (a handle, or the namespace) as `shared` or `exclusive`. Shared
 * claims on a lane run concurrently (READs and WRITEs at their offsets); an exclusive claim
 * starts after every earlier claim on that lane has finished, and later claims wait for it
 * (CLOSE after the WRITEs sent before it; STAT after a RENAME sent before it). Claims are
 * registered when the request is dispatched, so the order is the order of arrival.
 */

export type LaneKey = string;
export type ClaimMode = 'shared' | 'exclusive';
export type Claim = readonly [LaneKey, ClaimMode];

interface Lane {
  exclusive: Promise<void> | null;
  readonly shared: Set<Promise<void>>;
}

export interface Admission {
  /** Null when the request may start now; otherwise resolves when it may start. */
  readonly ready: Promise<void> | null;
  /** Call exactly once when the request has finished (or was skipped). */
  readonly done: () => void;
}

export class RequestOrdering {
  private readonly lanes = new Map<LaneKey, Lane>();

  get activeLanes(): number {
    return this.lanes.size;
  }

  enter(claims: readonly Claim[]): Admission {
    if (claims.length === 0) return { ready: null, done: () => {} };
    let resolve!: () => void;
    const finished = new Promise<void>((r) => {
      resolve = r;
    });
    const waitFor: Promise<void>[] = [];
    for (const [key, mode] of claims) {
      let lane = this.lanes.get(key);
      if (!lane) {
        lane = { exclusive: null, shared: new Set() };
        this.lanes.set(key, lane);
      }
      if (lane.exclusive) waitFor.push(lane.exclusive);
      if (mode === 'shared') {
        lane.shared.add(finished);
      } else {
        waitFor.push(...lane.shared);
        lane.shared.clear();
        lane.exclusive = finished;
      }
    }
    const done = (): void => {
      resolve();
      for (const [key] of claims) {
        const lane = this.lanes.get(key);
        if (!lane) continue;
        lane.shared.delete(finished);
        if (lane.exclusive === finished) lane.exclusive = null;
        if (lane.exclusive === null && lane.shared.size === 0) this.lanes.delete(key);
      }
    };
    const ready = waitFor.length === 0 ? null : Promise.all(waitFor).then(() => undefined);
    return { ready, done };
  }
}
