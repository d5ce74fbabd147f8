/**
 * `npm run bench:http-files`: Sluice's HTTP file API (`PUT`/`GET /api/v1/files/…`) measured with
 * the real `curl`, beside Sluice's SFTP measured with OpenSSH `sftp -b`, against one Sluice, in
 * one run, with the same files and the same user. See bench/README.md.
 *
 *   --big-mib N       size of the big upload/download file in MiB (default 1024; env BENCH_BIG_MIB)
 *   --small N         4 KiB files uploaded by one client process (default 1000; env BENCH_SMALL)
 *   --rounds N        rounds, alternating which protocol goes first (default 3; env BENCH_ROUNDS)
 *   --cases LIST      any of upload,download,small (default all)
 *   --protocols LIST  any of http,sftp (default both)
 *   --cpu-prof DIR    start Sluice under `node --cpu-prof`, profile written to DIR at the end
 *   --keep            keep the temporary directory (files, log) and print its path
 *
 * Prints tables only; writes no result files. Figures are for reading, never for assertions.
 */

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { columns, figure, log, median, runBench, withServers } from '../support/common.js';
import { expectSize, sha256File, writeRandomFile } from '../support/files.js';
import { type CaseTiming, measureCase } from '../support/measure-case.js';
import { makeKey, sftpSession } from '../support/openssh.js';
import { argValue, checkArguments, list, type TransferOptions, transferOptions } from '../support/options.js';
import { runClient } from '../support/processes.js';
import { SluiceProcess } from '../support/sluice.js';

const MiB = 1024 * 1024;
const SMALL_BYTES = 4096;

// ---------------------------------------------------------------------------------------------
// Options

const CASES = ['upload', 'download', 'small'] as const;
type CaseName = (typeof CASES)[number];
const PROTOCOLS = ['http', 'sftp'] as const;
type Protocol = (typeof PROTOCOLS)[number];
const LABEL: Record<Protocol, string> = { http: 'HTTP (curl)', sftp: 'SFTP (sftp -b)' };

interface Options extends TransferOptions {
  readonly cases: readonly CaseName[];
  readonly protocols: readonly Protocol[];
}

const VALUE_OPTIONS = ['--big-mib', '--small', '--rounds', '--cases', '--protocols', '--cpu-prof'];

const USAGE =
  'usage: npm run bench:http-files -- [--big-mib N] [--small N] [--rounds N] [--cases upload,download,small]\n' +
  '                                   [--protocols http,sftp] [--cpu-prof DIR] [--keep]\n' +
  '  --big-mib    big file in MiB, uploaded then downloaded (default 1024, env BENCH_BIG_MIB)\n' +
  '  --small      4 KiB files uploaded by one client process (default 1000, env BENCH_SMALL)\n' +
  '  --rounds     rounds, alternating which protocol goes first (default 3, env BENCH_ROUNDS)\n' +
  '  --cases      cases to run (default all)\n' +
  '  --protocols  protocols to run (default both; ratios need both)\n' +
  '  --cpu-prof   run Sluice under node --cpu-prof, profile written to DIR when it stops\n' +
  '  --keep       keep the temporary directory and print its path\n';

function parseOptions(): Options {
  checkArguments(VALUE_OPTIONS, ['--keep'], USAGE);
  return {
    ...transferOptions(),
    cases: list('--cases', argValue('cases'), CASES),
    protocols: list('--protocols', argValue('protocols'), PROTOCOLS),
  };
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function version(command: string, args: readonly string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  // The first line, without curl's list of libraries.
  return (`${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] ?? command)
    .split(' (')[0]!
    .split(',')[0]!;
}

// ---------------------------------------------------------------------------------------------
// Sluice

interface UploadedRecord {
  readonly protocol: string;
  readonly sha256: string;
  readonly size: number;
}

/** The running Sluice, the bench user's key and session, and the work directory. */
class Sluice {
  private running: SluiceProcess | undefined;
  /** The bench user's session (OpenImmutable, application 2: the HTTP file API). */
  bearer = '';
  private cleaned: Promise<void> | undefined;

  constructor(
    readonly work: string,
    readonly options: Options,
  ) {}

  get process(): SluiceProcess {
    if (!this.running) throw new Error('Sluice is not started');
    return this.running;
  }

  get key(): string {
    return path.join(this.work, 'user_ed25519');
  }

  /** Where a file of the bench user's home folder is on this machine's disk. */
  local(file: string): string {
    return this.process.local('bench', file);
  }

  async start(): Promise<void> {
    this.running = await SluiceProcess.start({ work: this.work, cpuProf: this.options.cpuProf });
    const password = randomBytes(12).toString('hex');
    await this.api(
      'POST',
      '/api/v1/users',
      {
        userName: 'bench',
        emailAddress: 'bench@example.com',
        password,
        sshPublicKeys: [(await readFile(`${this.key}.pub`, 'utf8')).trim()],
      },
      await this.running.adminToken(),
    );
    this.bearer = await this.running.signIn('bench', password, 2);
  }

  api<T>(method: string, route: string, body?: unknown, bearer = this.bearer): Promise<T> {
    return this.process.api<T>(method, route, body, bearer);
  }

  fileUrl(file: string): string {
    return `${this.process.base}/api/v1/files/${file}`;
  }

  /** The FileUploaded events recorded for paths ending in `suffix` (newest first). */
  async uploaded(suffix: string): Promise<UploadedRecord[]> {
    const rows = await this.process.query<{ protocol: string; sha256: string; size: string }>(
      `SELECT data->>'protocol' AS protocol, data->>'sha256' AS sha256, data->>'size' AS size
         FROM events WHERE type = 'FileUploaded' AND data->>'path' LIKE '%' || $1
        ORDER BY global_position DESC`,
      [suffix],
    );
    return rows.map((r) => ({ protocol: r.protocol, sha256: r.sha256, size: Number(r.size) }));
  }

  /** Events by type and protocol. */
  async events(): Promise<Array<{ type: string; protocol: string; n: number }>> {
    const rows = await this.process.query<{ type: string; protocol: string | null; n: string }>(
      `SELECT type, data->>'protocol' AS protocol, count(*) AS n FROM events GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    return rows.map((r) => ({ type: r.type, protocol: r.protocol ?? '', n: Number(r.n) }));
  }

  /** After a failure: the events so far and the end of the log, before they are removed. */
  async explainFailure(): Promise<void> {
    // Not started, or interrupted: stopping Sluice is what made the measurement fail.
    if (!this.running || this.cleaned) return;
    const events = await this.events().catch(() => undefined);
    if (events)
      log(
        `Sluice events so far: ${events.map((e) => `${e.type}${e.protocol ? `/${e.protocol}` : ''} ${e.n}`).join(', ')}`,
      );
    await this.running?.logTail();
  }

  /** Stops Sluice; idempotent. */
  cleanup(): Promise<void> {
    this.cleaned ??= this.running?.stop() ?? Promise.resolve();
    return this.cleaned;
  }
}

// ---------------------------------------------------------------------------------------------
// The clients: curl and OpenSSH sftp, at their defaults

/** `curl -K config`: one process, one connection kept alive, the transfers in order. */
async function curlConfig(sluice: Sluice, file: string, lines: readonly string[]): Promise<string> {
  const quote = (s: string) => `"${s.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
  const head = [
    'silent',
    'show-error',
    `header = ${quote(`authorization: Bearer ${sluice.bearer}`)}`,
    // One line per transfer: status, new connections made for it, bytes up and down.
    `write-out = ${quote('%{http_code} %{num_connects} %{size_upload} %{size_download}\\n')}`,
  ];
  await writeFile(file, `${[...head, ...lines].join('\n')}\n`, { mode: 0o600 });
  try {
    return await runClient('curl', ['-K', file]);
  } finally {
    await rm(file, { force: true });
  }
}

interface CurlResult {
  readonly status: number;
  readonly connects: number;
}

function curlResults(out: string): CurlResult[] {
  return out
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [status, connects] = l.split(' ');
      return { status: Number(status), connects: Number(connects) };
    });
}

class SftpClient {
  constructor(private readonly sluice: Sluice) {}

  /** One `sftp -b` session running these commands. */
  async session(commands: readonly string[]): Promise<void> {
    const login = {
      key: this.sluice.key,
      port: this.sluice.process.sftpPort,
      user: 'bench',
      label: 'Sluice',
    };
    await sftpSession(this.sluice.work, login, commands);
  }
}

// ---------------------------------------------------------------------------------------------
// Cases

/** Server: Sluice (node + PostgreSQL); client: curl, or sftp and ssh. */
type Sample = CaseTiming;

interface CaseSpec {
  readonly name: CaseName;
  readonly title: string;
  readonly unit: string;
  /** Untimed preparation. */
  before(protocol: Protocol, round: number): Promise<void>;
  /** Timed work; resolves with the amount (MiB or files) moved. */
  timed(protocol: Protocol, round: number): Promise<number>;
  /** Untimed check that the work really happened, and clean-up. */
  after(protocol: Protocol, round: number): Promise<void>;
}

/** Checks that Sluice recorded exactly one FileUploaded for this name, by this protocol, with this content. */
async function expectRecorded(
  sluice: Sluice,
  name: string,
  protocol: Protocol,
  bytes: number,
  sha256: string,
): Promise<void> {
  const records = await sluice.uploaded(`/${name}`);
  const r = records[0];
  if (records.length !== 1 || r?.protocol !== protocol || r.size !== bytes || r.sha256 !== sha256) {
    throw new Error(
      `${name}: expected one FileUploaded (${protocol}, ${bytes} bytes, sha256 ${sha256}), found ${JSON.stringify(records)}`,
    );
  }
}

function cases(sluice: Sluice, sftp: SftpClient, o: Options, bigSha: () => string): CaseSpec[] {
  const work = sluice.work;
  const big = path.join(work, 'big.bin');
  const back = path.join(work, 'back.bin');
  const smallFile = (i: number) => path.join(work, 'small', `f${i}`);
  const bigName = (p: Protocol, round: number) => `${p}-r${round}-big.bin`;
  const smallDir = (p: Protocol, round: number) => `${p}-r${round}-small`;
  const bigLabel = o.bigMib % 1024 === 0 ? `${o.bigMib / 1024} GiB` : `${o.bigMib} MiB`;
  const uploaded = new Set<string>();

  const upload = async (p: Protocol, round: number) => {
    const name = bigName(p, round);
    if (p === 'http') {
      const reply = path.join(work, 'reply.json');
      const out = await curlConfig(sluice, path.join(work, 'curl-upload'), [
        `upload-file = "${big}"`,
        `url = "${sluice.fileUrl(name)}"`,
        `output = "${reply}"`,
      ]);
      const [result] = curlResults(out);
      const body = await readFile(reply, 'utf8').catch(() => '');
      if (result?.status !== 201) throw new Error(`PUT ${name}: ${result?.status} ${body.slice(0, 300)}`);
      const sha = (JSON.parse(body) as { sha256?: string }).sha256;
      if (sha !== bigSha()) throw new Error(`PUT ${name}: Sluice replied sha256 ${sha}, sent ${bigSha()}`);
    } else {
      await sftp.session([`put ${big} ${name}`]);
    }
    uploaded.add(name);
  };

  const all: CaseSpec[] = [
    {
      name: 'upload',
      title: `upload ${bigLabel}`,
      unit: 'MiB/s',
      before: async () => {},
      timed: async (p, round) => {
        await upload(p, round);
        return o.bigMib;
      },
      after: async (p, round) => {
        const name = bigName(p, round);
        await expectSize(sluice.local(name), o.bigMib * MiB);
        await expectRecorded(sluice, name, p, o.bigMib * MiB, bigSha());
      },
    },
    {
      name: 'download',
      title: `download ${bigLabel}`,
      unit: 'MiB/s',
      before: async (p, round) => {
        await rm(back, { force: true });
        if (!uploaded.has(bigName(p, round))) await upload(p, round);
      },
      timed: async (p, round) => {
        const name = bigName(p, round);
        if (p === 'http') {
          const out = await curlConfig(sluice, path.join(work, 'curl-download'), [
            `url = "${sluice.fileUrl(name)}"`,
            `output = "${back}"`,
          ]);
          const [result] = curlResults(out);
          if (result?.status !== 200) throw new Error(`GET ${name}: ${result?.status}`);
        } else {
          await sftp.session([`get ${name} ${back}`]);
        }
        return o.bigMib;
      },
      after: async (p, round) => {
        const sha = await sha256File(back);
        if (sha !== bigSha()) throw new Error(`${p} download of ${bigName(p, round)}: sha256 ${sha}`);
        await rm(back, { force: true });
      },
    },
    {
      name: 'small',
      title: `${o.small.toLocaleString('en')} × 4 KiB, 1 client process`,
      unit: 'files/s',
      before: async (p, round) => {
        await sluice.api('POST', `/api/v1/folders/${smallDir(p, round)}`);
      },
      timed: async (p, round) => {
        const dir = smallDir(p, round);
        if (p === 'http') {
          const lines: string[] = [];
          for (let i = 1; i <= o.small; i++) {
            lines.push(
              `upload-file = "${smallFile(i)}"`,
              `url = "${sluice.fileUrl(`${dir}/f${i}`)}"`,
              'output = "/dev/null"',
            );
          }
          const results = curlResults(await curlConfig(sluice, path.join(work, 'curl-small'), lines));
          const bad = results.filter((r) => r.status !== 201);
          if (results.length !== o.small || bad.length > 0) {
            throw new Error(
              `PUT ${dir}/…: ${results.length} replies, ${bad.length} not 201 (${bad[0]?.status})`,
            );
          }
          const connections = results.reduce((sum, r) => sum + r.connects, 0);
          if (connections !== 1) log(`  note: curl opened ${connections} connections for ${o.small} uploads`);
        } else {
          const commands: string[] = [];
          for (let i = 1; i <= o.small; i++) commands.push(`put ${smallFile(i)} ${dir}/f${i}`);
          await sftp.session(commands);
        }
        return o.small;
      },
      after: async (p, round) => {
        const dir = smallDir(p, round);
        for (let i = 1; i <= o.small; i++) await expectSize(sluice.local(`${dir}/f${i}`), SMALL_BYTES);
        const rows = await sluice.process.query<{ n: string }>(
          `SELECT count(*) AS n FROM events WHERE type = 'FileUploaded' AND data->>'protocol' = $1
              AND data->>'path' LIKE '%/' || $2 || '/%'`,
          [p, dir],
        );
        const n = Number(rows[0]?.n);
        if (n !== o.small) throw new Error(`${dir}: ${n} FileUploaded events for ${o.small} files`);
      },
    },
  ];
  return all.filter((c) => o.cases.includes(c.name));
}

async function measure(sluice: Sluice, spec: CaseSpec, p: Protocol, round: number): Promise<Sample> {
  await spec.before(p, round);
  const sample = await measureCase(
    () => sluice.process.cpu(),
    () => spec.timed(p, round),
  );
  await spec.after(p, round);
  return sample;
}

// ---------------------------------------------------------------------------------------------
// Report

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parseOptions();
  await withServers(
    'http-files',
    o.keep,
    (work) => new Sluice(work, o),
    async (sluice, work) => {
      log(`bench/http-files: ${work}; load ${os.loadavg()[0]!.toFixed(2)} on ${os.cpus().length} cores`);
      makeKey(sluice.key);
      let bigSha = '';
      if (o.cases.includes('upload') || o.cases.includes('download')) {
        log(`writing a ${o.bigMib} MiB random file`);
        bigSha = await writeRandomFile(path.join(work, 'big.bin'), o.bigMib * MiB);
      }
      if (o.cases.includes('small')) {
        await mkdir(path.join(work, 'small'));
        for (let i = 1; i <= o.small; i++) {
          await writeFile(path.join(work, 'small', `f${i}`), randomBytes(SMALL_BYTES));
        }
      }
      log('starting Sluice');
      await sluice.start();
      const sftp = new SftpClient(sluice);
      const specs = cases(sluice, sftp, o, () => bigSha);
      const samples = new Map<string, Sample[]>(); // `${case}/${protocol}`
      for (let round = 1; round <= o.rounds; round++) {
        const order = round % 2 === 1 ? o.protocols : [...o.protocols].reverse();
        for (const spec of specs) {
          for (const p of order) {
            const s = await measure(sluice, spec, p, round);
            const key = `${spec.name}/${p}`;
            samples.set(key, [...(samples.get(key) ?? []), s]);
            log(
              `round ${round}/${o.rounds}  ${spec.title.padEnd(34)} ${p.padEnd(4)} ${figure(s.rate).padStart(6)} ${spec.unit}  ` +
                `${s.seconds.toFixed(2)} s  CPU Sluice ${s.serverCpu.toFixed(1)} s (PostgreSQL ${s.pgCpu.toFixed(1)} s) ` +
                `client ${s.clientCpu.toFixed(1)} s  load ${os.loadavg()[0]!.toFixed(2)}  RSS ${(await sluice.process.rssMib()).toFixed(0)} MiB`,
            );
          }
          if (spec.name === 'download' || (spec.name === 'upload' && !o.cases.includes('download'))) {
            // Done with this round's big files: free the disk (untimed; recorded as FileDeleted).
            for (const p of o.protocols) await sluice.api('DELETE', `/api/v1/files/${p}-r${round}-big.bin`);
          }
        }
      }
      const events = await sluice.events();

      // --- table (stdout)
      const out: string[] = [];
      out.push(
        `bench/http-files — ${new Date().toISOString()}, ${os.hostname()}, ${os.cpus().length} cores, node ${process.version}, ` +
          `medians of ${o.rounds} round${o.rounds > 1 ? 's' : ''} (protocols alternate first), one Sluice, user bench`,
      );
      out.push(`clients: ${version('curl', ['--version'])}; sftp of ${version('ssh', ['-V'])}`);
      out.push('');
      const both = o.protocols.length === 2;
      const header = ['case', 'unit', ...o.protocols.map((p) => LABEL[p])];
      if (both) header.push('HTTP/SFTP');
      for (const p of o.protocols) header.push(`${p.toUpperCase()} rounds`);
      for (const p of o.protocols) header.push(`${p.toUpperCase()} CPU s srv+cli`);
      const rows: string[][] = [header];
      for (const spec of specs) {
        const row = [spec.title, spec.unit];
        const med = new Map<Protocol, number>();
        for (const p of o.protocols) {
          const m = median((samples.get(`${spec.name}/${p}`) ?? []).map((s) => s.rate));
          med.set(p, m);
          row.push(figure(m));
        }
        if (both) row.push((med.get('http')! / med.get('sftp')!).toFixed(2));
        for (const p of o.protocols) {
          row.push((samples.get(`${spec.name}/${p}`) ?? []).map((s) => figure(s.rate)).join(' '));
        }
        for (const p of o.protocols) {
          const list = samples.get(`${spec.name}/${p}`) ?? [];
          row.push(
            `${median(list.map((s) => s.serverCpu)).toFixed(1)}+${median(list.map((s) => s.clientCpu)).toFixed(1)}`,
          );
        }
        rows.push(row);
      }
      out.push(
        columns(
          rows,
          header.map((_, i) => i).filter((i) => i >= 2),
        ),
      );
      out.push('');
      out.push(
        'MiB/s = 1,048,576 bytes per second. CPU s srv+cli: CPU seconds of Sluice (node + its PostgreSQL)',
      );
      out.push(
        '  and of the client processes (curl; sftp + ssh) during the case, medians. Load when done: ' +
          os
            .loadavg()
            .map((l) => l.toFixed(2))
            .join(' '),
      );
      const bigUploads = o.cases.includes('upload') || o.cases.includes('download') ? 1 : 0;
      const smallUploads = o.cases.includes('small') ? o.small : 0;
      const uploadedBy = (p: Protocol) =>
        events.filter((e) => e.type === 'FileUploaded' && e.protocol === p).reduce((a, e) => a + e.n, 0);
      const expected = (bigUploads + smallUploads) * o.rounds;
      out.push(
        `FileUploaded events in Sluice's store: ${o.protocols
          .map((p) => `${p} ${uploadedBy(p).toLocaleString('en')}`)
          .join(
            ', ',
          )} (files uploaded: ${expected.toLocaleString('en')} per protocol; each checked by path, size and sha256)`,
      );
      out.push(
        `All events: ${events.map((e) => `${e.type}${e.protocol ? `/${e.protocol}` : ''} ${e.n}`).join(', ')}`,
      );
      process.stdout.write(`${out.join('\n')}\n`);
    },
  );
}

runBench('bench:http-files', main);
