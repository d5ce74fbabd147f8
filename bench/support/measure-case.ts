/**
 * One timed case of a file-transfer benchmark (bench:sftp, bench:http-files): its rate, its
 * seconds and the CPU seconds the server (and its PostgreSQL) and the client processes used
 * meanwhile, read from /proc before and after.
 */
import { execFileSync } from 'node:child_process';
import { cpuWithReaped, sleep } from './processes.js';

/** CPU seconds a server has used so far; `pg` is the part of `total` used by its PostgreSQL (0 if none). */
export interface ServerCpu {
  readonly total: number;
  readonly pg: number;
}

export interface CaseTiming {
  /** MiB/s or files/s. */
  readonly rate: number;
  readonly seconds: number;
  /** CPU seconds of the server's processes during the case. */
  readonly serverCpu: number;
  /** The part of `serverCpu` used by Sluice's PostgreSQL. */
  readonly pgCpu: number;
  /** CPU seconds of the client processes (this process's reaped children) during the case. */
  readonly clientCpu: number;
}

/**
 * Times `timed` (which resolves with the amount moved: MiB or files) and reads `serverCpu` and
 * this process's reaped children around it. Writes back what the previous case left dirty first
 * (OpenSSH does not fsync), so that its write-back does not land in this measurement; waits
 * 200 ms after the work, so that a session's last server processes are reaped and the last
 * PostgreSQL work settles into the CPU figures.
 */
export async function measureCase(
  serverCpu: () => Promise<ServerCpu>,
  timed: () => Promise<number>,
): Promise<CaseTiming> {
  execFileSync('sync');
  const server0 = await serverCpu();
  const client0 = await cpuWithReaped('self');
  const t0 = performance.now();
  const amount = await timed();
  const seconds = (performance.now() - t0) / 1000;
  await sleep(200);
  const server1 = await serverCpu();
  const clientCpu = (await cpuWithReaped('self')) - client0;
  return {
    rate: amount / seconds,
    seconds,
    serverCpu: server1.total - server0.total,
    pgCpu: server1.pg - server0.pg,
    clientCpu,
  };
}
