/**
 * `npm run bench:ftps`: Sluice's FTPS beside Sluice's SFTP, one Sluice (`src/main.ts`, embedded
 * PostgreSQL), the same files and the same user, in one run, rounds alternating which protocol
 * goes first; twice: with one client for both (lftp: FTPS with ftp:ssl-force and PROT P, SFTP
 * over OpenSSH's ssh), and with each protocol's usual command-line client (curl --ssl-reqd,
 * OpenSSH sftp -b). See bench/README.md.
 *
 *   BENCH_BIG_MIB    the big file, uploaded then downloaded (default 256)
 *   BENCH_SMALL      4 KiB files uploaded in one session (default 200)
 *   BENCH_ROUNDS     rounds (default 3)
 *
 * Prints a table of medians and FTPS/SFTP ratios; figures are for reading, never for assertions.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { curlFtp, lftpFtps } from '../../test/support/ftps-clients.js';
import { type ClientResult, lftp, openSshBatch } from '../../test/support/sftp-clients.js';
import { cpuOf } from '../support/processes.js';
import { SluiceProcess } from '../support/sluice.js';

const MiB = 1024 * 1024;
const SMALL_BYTES = 4096;
const PROTOCOLS = ['ftps', 'sftp'] as const;
type Protocol = (typeof PROTOCOLS)[number];
type CaseName = 'upload' | 'download' | 'small';
type ClientName = 'lftp' | 'native';
const CASES: ReadonlyArray<readonly [ClientName, CaseName]> = (['lftp', 'native'] as const).flatMap((c) =>
  (['upload', 'download', 'small'] as const).map((n) => [c, n] as const),
);

function setting(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) {
    process.stderr.write(`${name} must be a whole number from 1, got "${raw}"\n`);
    process.exit(2);
  }
  return n;
}

const bigMib = setting('BENCH_BIG_MIB', 256);
const smallCount = setting('BENCH_SMALL', 200);
const rounds = setting('BENCH_ROUNDS', 3);
const log = (line: string) => process.stderr.write(`${line}\n`);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'sluice-bench-ftps-'));
  const password = randomBytes(12).toString('hex');
  await chmod(work, 0o755); // Sluice's data is in it, and its PostgreSQL runs as user postgres
  const server = await SluiceProcess.start({ work });
  try {
    await server.api(
      'POST',
      '/api/v1/users',
      { userName: 'bench', emailAddress: 'bench@example.com', password },
      await server.adminToken(),
    );
    const big = randomBytes(bigMib * MiB);
    await writeFile(path.join(work, 'big.bin'), big);
    await mkdir(path.join(work, 'small'));
    for (let i = 0; i < smallCount; i++)
      await writeFile(
        path.join(work, 'small', `f${String(i).padStart(5, '0')}.bin`),
        randomBytes(SMALL_BYTES),
      );
    const home = path.join(server.dataDir, 'files', 'bench');
    const sftpPort = server.sftpPort;
    const ftpsPort = Number(server.env.MFT_FTPS_PORT);
    const smallNames = (await readdir(path.join(work, 'small'))).sort();
    const url = (name: string) => `ftp://bench:${password}@127.0.0.1:${ftpsPort}/${name}`;
    const sftpBatch = (batch: string[]) => openSshBatch(sftpPort, 'bench', { password }, batch);
    /** Each client's run of each case, by protocol. */
    const runs: Record<
      ClientName,
      Record<CaseName, (p: Protocol, round: number) => Promise<ClientResult>>
    > = {
      lftp: {
        upload: (p) => lftpOf(p, [`put ${work}/big.bin -o big-${p}.bin`]),
        download: (p) => lftpOf(p, ['set xfer:clobber on', `get big-${p}.bin -o ${work}/down-${p}.bin`]),
        small: (p, round) =>
          lftpOf(p, [`mkdir lftp-${p}-${round}`, `mput -O lftp-${p}-${round} ${work}/small/*`]),
      },
      native: {
        upload: (p) =>
          p === 'ftps'
            ? curlFtp(['--ssl-reqd', '-T', `${work}/big.bin`, url(`big-${p}.bin`)])
            : sftpBatch([`put ${work}/big.bin big-${p}.bin`]),
        download: (p) =>
          p === 'ftps'
            ? curlFtp(['--ssl-reqd', '-o', `${work}/down-${p}.bin`, url(`big-${p}.bin`)])
            : sftpBatch([`get big-${p}.bin ${work}/down-${p}.bin`]),
        small: (p, round) =>
          p === 'ftps'
            ? curlFtp([
                '--ssl-reqd',
                '--ftp-create-dirs',
                '-T',
                `${work}/small/{${smallNames.join(',')}}`,
                url(`native-${p}-${round}/`),
              ])
            : sftpBatch([`mkdir native-${p}-${round}`, `put ${work}/small/* native-${p}-${round}/`]),
      },
    };
    function lftpOf(p: Protocol, commands: string[]): Promise<ClientResult> {
      return p === 'ftps'
        ? lftpFtps(ftpsPort, 'bench', password, commands)
        : lftp(sftpPort, 'bench', password, commands);
    }
    const samples = new Map<string, Array<{ seconds: number; cpu: number }>>();
    const pid = server.child.pid!;
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 ? PROTOCOLS : [...PROTOCOLS].reverse();
      for (const [clientName, name] of CASES) {
        for (const p of order) {
          const cpuBefore = await cpuOf(pid);
          const started = process.hrtime.bigint();
          const result = await runs[clientName][name](p, round);
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          if (result.code !== 0)
            throw new Error(`${clientName} ${p} ${name}: ${result.stderr || result.stdout}`);
          const cpu = (await cpuOf(pid)) - cpuBefore;
          const key = `${clientName}/${name}/${p}`;
          samples.set(key, [...(samples.get(key) ?? []), { seconds, cpu }]);
          log(`round ${round} ${key}: ${seconds.toFixed(2)} s, Sluice CPU ${cpu.toFixed(2)} s`);
        }
      }
      // Every transfer arrived whole (the last client's).
      for (const p of PROTOCOLS) {
        const up = sha256(await readFile(path.join(home, `big-${p}.bin`)));
        const down = sha256(await readFile(path.join(work, `down-${p}.bin`)));
        if (up !== sha256(big) || down !== sha256(big)) throw new Error(`${p}: the big file differs`);
      }
    }
    const rows: string[][] = [['client', 'case', 'FTPS', 'SFTP', 'FTPS/SFTP', 'Sluice CPU s FTPS', 'SFTP']];
    for (const [clientName, name] of CASES) {
      const of = (p: Protocol) => samples.get(`${clientName}/${name}/${p}`)!;
      const rate = (p: Protocol) => {
        const s = median(of(p).map((x) => x.seconds));
        return name === 'small' ? smallCount / s : bigMib / s;
      };
      const cpu = (p: Protocol) => median(of(p).map((x) => x.cpu));
      const unit = name === 'small' ? 'files/s' : 'MiB/s';
      rows.push([
        clientName === 'lftp' ? 'lftp (both)' : 'curl / sftp -b',
        name === 'small' ? `${smallCount} × 4 KiB` : `${name} ${bigMib} MiB`,
        `${rate('ftps').toFixed(1)} ${unit}`,
        `${rate('sftp').toFixed(1)} ${unit}`,
        (rate('ftps') / rate('sftp')).toFixed(2),
        cpu('ftps').toFixed(2),
        cpu('sftp').toFixed(2),
      ]);
    }
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    console.log(`\nFTPS vs SFTP, one Sluice, ${rounds} rounds (medians), ${os.cpus().length} cores`);
    for (const row of rows)
      console.log(row.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
  } finally {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
