/**
 * `npm run bench:outbound-sftp -- [--mib=N] [--rounds=N]`: Sluice's outbound SFTP transfer
 * (src/adapters/outbound-sftp) against OpenSSH's own `sftp -b` client putting the same file
 * and ssh2's own fastPut putting the same file into the same local OpenSSH server
 * (test/support/openssh-server.ts), each round starting with another. See bench/README.md.
 *
 *   --mib=N     size of the file in MiB (default 256; env BENCH_MIB)
 *   --rounds=N  rounds (default 3; env BENCH_ROUNDS)
 *
 * sendFile also reads the whole file back to verify it (OpenSSH has no check-file extension),
 * so it moves twice the bytes; 'already-there' is that read-back alone. MB/s are of the file's
 * size. Prints a table only; figures are for reading, never for assertions.
 */

import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import ssh2 from 'ssh2';
import { sendFile } from '../../src/adapters/outbound-sftp/send-file.js';
import { fingerprintOf, type OutboundSftpTarget } from '../../src/adapters/outbound-sftp/target.js';
import { outboundTarget, startOpenSshServer } from '../../test/support/openssh-server.js';
import { figure, log, machine, median, parseOptions, runBench, table } from '../support/common.js';
import { writeRandomFile } from '../support/files.js';
import { runClient } from '../support/processes.js';

const MiB = 1024 * 1024;

/** ssh2's own pipelined upload over the same kind of connection (pinned key), for comparison. */
async function fastPut(target: OutboundSftpTarget, local: string, remote: string): Promise<void> {
  const client = new ssh2.Client();
  try {
    client.connect({ ...target, hostVerifier: (key: Buffer) => fingerprintOf(key) === target.hostKeySha256 });
    await once(client, 'ready');
    const sftp = await promisify(client.sftp.bind(client))();
    await promisify(sftp.fastPut.bind(sftp))(local, remote);
  } finally {
    client.end();
  }
}

async function main() {
  const options = parseOptions('bench:outbound-sftp', {
    mib: { env: 'BENCH_MIB', fallback: 256 },
    rounds: { env: 'BENCH_ROUNDS', fallback: 3 },
  });
  const server = await startOpenSshServer();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-bench-outbound-'));
  try {
    const size = options.mib * MiB;
    const file = path.join(dir, 'source.bin');
    const sha256 = await writeRandomFile(file, size);
    const identity = path.join(dir, 'id');
    await writeFile(identity, server.privateKey, { mode: 0o600 });
    const target = outboundTarget(server);
    const rates: Record<'openssh' | 'sent' | 'already' | 'fastPut', number[]> = {
      openssh: [],
      sent: [],
      already: [],
      fastPut: [],
    };
    const timed = async (work: () => Promise<unknown>) => {
      const started = performance.now();
      await work();
      return size / MiB / ((performance.now() - started) / 1000);
    };
    for (let round = 0; round < options.rounds; round++) {
      log(`round ${round + 1} of ${options.rounds}`);
      const steps = [
        async () => {
          const name = `openssh-${round}`;
          const batch = path.join(dir, 'batch');
          await writeFile(batch, `put ${file} ${path.join(server.root, name)}\n`);
          rates.openssh.push(
            await timed(() =>
              runClient('sftp', [
                ...['-q', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null'],
                ...['-i', identity, '-P', String(server.port), '-b', batch, `${server.username}@127.0.0.1`],
              ]),
            ),
          );
        },
        async () => {
          const name = `fastput-${round}`;
          rates.fastPut.push(await timed(() => fastPut(target, file, path.join(server.root, name))));
        },
        async () => {
          const name = `sluice-${round}`;
          rates.sent.push(await timed(() => sendFile(target, { path: file, size, sha256 }, name)));
          rates.already.push(await timed(() => sendFile(target, { path: file, size, sha256 }, name)));
        },
      ];
      // Each round starts with another client, so none always runs on a cold or warm cache.
      for (let i = 0; i < round % steps.length; i++) steps.push(steps.shift()!);
      for (const step of steps) await step();
      for (const name of ['openssh', 'fastput', 'sluice'])
        await rm(path.join(server.root, `${name}-${round}`));
    }
    process.stdout.write(
      table(
        `Outbound SFTP, ${options.mib} MiB to OpenSSH on 127.0.0.1, median of ${options.rounds} rounds (${machine()})`,
        ['client', 'MB/s', 'rounds'],
        (
          [
            ['OpenSSH sftp -b put', 'openssh'],
            ['sendFile (upload + read-back verify)', 'sent'],
            ['ssh2 fastPut (same library, 64 × 32 KiB, no verify)', 'fastPut'],
            ['sendFile again (already-there: read-back)', 'already'],
          ] as const
        ).map(([label, key]) => [
          label,
          figure(median(rates[key])),
          rates[key].map((r) => figure(r)).join(' '),
        ]),
      ),
    );
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

runBench('bench:outbound-sftp', main);
