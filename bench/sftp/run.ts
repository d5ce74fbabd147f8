/**
 * `npm run bench:sftp`: Sluice's SFTP server against OpenSSH's own (`sshd` + internal-sftp) and
 * ProFTPD's mod_sftp in one run, with the same files and the same OpenSSH `sftp -b` client at
 * its defaults. See bench/README.md.
 *
 *   --big-mib N       size of the big upload/download file in MiB (default 1024; env BENCH_BIG_MIB)
 *   --small N         4 KiB files uploaded in one session (default 1000; env BENCH_SMALL)
 *   --sessions N      concurrent sessions (default 32; env BENCH_SESSIONS)
 *   --session-mib N   MiB each concurrent session uploads (default 32; env BENCH_SESSION_MIB)
 *   --rounds N        rounds, alternating which server goes first (default 3; env BENCH_ROUNDS)
 *   --cases LIST      any of upload,download,small,concurrent (default all)
 *   --servers LIST    any of openssh,proftpd,sluice (default all three)
 *   --cpu-prof DIR    start Sluice under `node --cpu-prof`, profile written to DIR at the end
 *   --node-options S  more node flags for Sluice, space-separated (e.g. "--trace-gc")
 *   --keep            keep the temporary directory (files, configs, logs) and print its path
 *
 * Prints tables only; writes no result files. Figures are for reading, never for assertions.
 */

import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { freePort } from '../../test/support/free-port.js';
import { proftpdSftpBase } from '../../test/support/proftpd-server.js';
import { columns, figure, log, median, positiveInt, runBench, withServers } from '../support/common.js';
import { expectSize, writeRandomFile } from '../support/files.js';
import { type CaseTiming, measureCase } from '../support/measure-case.js';
import {
  type BenchSshd,
  exists,
  makeKey,
  requireFile,
  type SftpLogin,
  sftpSession,
  sshVersion,
  startSshd,
} from '../support/openssh.js';
import { argValue, checkArguments, list, type TransferOptions, transferOptions } from '../support/options.js';
import { cpuWithReaped, run, sleep } from '../support/processes.js';
import { SluiceProcess } from '../support/sluice.js';

const MiB = 1024 * 1024;
/** How long PostgreSQL may hold back an idle backend's statistics (PGSTAT_IDLE_INTERVAL), plus margin. */
const STATS_SETTLE_MS = 11_000;

// ---------------------------------------------------------------------------------------------
// Options

const CASES = ['upload', 'download', 'small', 'concurrent'] as const;
type CaseName = (typeof CASES)[number];
const SERVERS = ['openssh', 'proftpd', 'sluice'] as const;
const SERVER_TITLES: Record<ServerName, string> = {
  openssh: 'OpenSSH',
  proftpd: 'ProFTPD',
  sluice: 'Sluice',
};
const PROFTPD = '/usr/sbin/proftpd';
type ServerName = (typeof SERVERS)[number];

interface Options extends TransferOptions {
  readonly sessions: number;
  readonly sessionMib: number;
  readonly cases: readonly CaseName[];
  readonly servers: readonly ServerName[];
  readonly nodeOptions: readonly string[];
}

const VALUE_OPTIONS = [
  '--big-mib',
  '--small',
  '--sessions',
  '--session-mib',
  '--rounds',
  '--cases',
  '--servers',
  '--cpu-prof',
  '--node-options',
];

const USAGE =
  'usage: npm run bench:sftp -- [--big-mib N] [--small N] [--sessions N] [--session-mib N] [--rounds N]\n' +
  '                             [--cases upload,download,small,concurrent] [--servers openssh,proftpd,sluice]\n' +
  '                             [--cpu-prof DIR] [--node-options "FLAGS"] [--keep]\n' +
  '  --big-mib      big file in MiB, uploaded then downloaded (default 1024, env BENCH_BIG_MIB)\n' +
  '  --small        4 KiB files uploaded in one session (default 1000, env BENCH_SMALL)\n' +
  '  --sessions     concurrent sessions (default 32, env BENCH_SESSIONS)\n' +
  '  --session-mib  MiB uploaded by each concurrent session (default 32, env BENCH_SESSION_MIB)\n' +
  '  --rounds       rounds, alternating which server goes first (default 3, env BENCH_ROUNDS)\n' +
  '  --cases        cases to run (default all)\n' +
  '  --servers      servers to run (default all three; ratios need Sluice and a peer)\n' +
  '  --cpu-prof     run Sluice under node --cpu-prof, profile written to DIR when it stops\n' +
  '  --node-options more node flags for Sluice, e.g. "--trace-gc" (output in its log)\n' +
  '  --keep         keep the temporary directory and print its path\n';

function parseOptions(): Options {
  checkArguments(VALUE_OPTIONS, ['--keep'], USAGE);
  return {
    ...transferOptions(),
    sessions: positiveInt('--sessions', argValue('sessions') ?? process.env.BENCH_SESSIONS, 32),
    sessionMib: positiveInt('--session-mib', argValue('session-mib') ?? process.env.BENCH_SESSION_MIB, 32),
    cases: list('--cases', argValue('cases'), CASES),
    servers: list('--servers', argValue('servers'), SERVERS),
    nodeOptions: (argValue('node-options') ?? '').split(/\s+/).filter((f) => f !== ''),
  };
}

// ---------------------------------------------------------------------------------------------
// The servers

interface Target extends SftpLogin {
  readonly name: ServerName;
  /** How the client names a file in the server's upload directory. */
  remote(file: string): string;
  /** Where that file is on this machine's disk. */
  local(file: string): string;
}

interface Probe {
  readonly cipher: string;
  readonly requests: string;
}

class Bench {
  readonly work: string;
  private sshd: BenchSshd | undefined;
  private sluice: SluiceProcess | undefined;
  private cleaned: Promise<void> | undefined;

  constructor(
    work: string,
    readonly options: Options,
  ) {
    this.work = work;
  }

  get key(): string {
    return path.join(this.work, 'user_ed25519');
  }

  /** Client key (shared by the servers), host keys, test files. */
  async prepare(): Promise<void> {
    const o = this.options;
    makeKey(this.key);
    if (o.servers.includes('proftpd')) {
      // mod_sftp reads PEM host keys and RFC 4716 authorized keys.
      run('ssh-keygen', ['-q', '-t', 'rsa', '-b', '3072', '-m', 'PEM', '-N', '', '-f', this.proftpdHostKey]);
      await writeFile(
        path.join(this.work, 'authorized_rfc4716'),
        run('ssh-keygen', ['-e', '-f', `${this.key}.pub`]),
      );
    }
    const needBig = o.cases.includes('upload') || o.cases.includes('download');
    if (needBig) {
      log(`writing a ${o.bigMib} MiB random file`);
      await writeRandomFile(path.join(this.work, 'big.bin'), o.bigMib * MiB);
    }
    if (o.cases.includes('small')) {
      await mkdir(path.join(this.work, 'small'));
      for (let i = 1; i <= o.small; i++) {
        await writeFile(path.join(this.work, 'small', `f${i}`), randomBytes(4096));
      }
    }
    if (o.cases.includes('concurrent')) {
      await writeRandomFile(path.join(this.work, 'session.bin'), o.sessionMib * MiB);
    }
  }

  private get proftpdHostKey(): string {
    return path.join(this.work, 'host_rsa_pem');
  }

  private proftpdPidFile: string | undefined;

  /** ProFTPD standalone with mod_sftp only (Debian proftpd-core + proftpd-mod-crypto), key sign-in as root. */
  async startProftpd(): Promise<Target> {
    await requireFile(PROFTPD, 'is missing: apt-get install -y proftpd-core proftpd-mod-crypto');
    await requireFile('/usr/lib/proftpd/mod_sftp.so', 'is missing: apt-get install -y proftpd-mod-crypto');
    const port = await freePort();
    const dir = path.join(this.work, 'dst-proftpd');
    await mkdir(dir);
    this.proftpdPidFile = path.join(this.work, 'proftpd.pid');
    const config = path.join(this.work, 'proftpd.conf');
    await writeFile(
      config,
      [
        ...proftpdSftpBase(port, this.work),
        'ServerName "bench"',
        `MaxInstances ${Math.max(100, this.options.sessions * 2)}`,
        `SFTPHostKey ${this.proftpdHostKey}`,
        'SFTPAuthMethods publickey',
        `SFTPAuthorizedUserKeys file:${path.join(this.work, 'authorized_rfc4716')}`,
        'SFTPCompression off',
        '<Directory />',
        '  AllowOverwrite on',
        '</Directory>',
        '',
      ].join('\n'),
    );
    const out = run(PROFTPD, ['-c', config]);
    for (let i = 0; i < 50 && !(await exists(this.proftpdPidFile)); i++) await sleep(100);
    if (!(await exists(this.proftpdPidFile))) throw new Error(`ProFTPD did not start: ${out}`);
    const version = (() => {
      try {
        return run(PROFTPD, ['-v'])
          .trim()
          .replace(/^ProFTPD Version /i, '');
      } catch {
        return '';
      }
    })();
    return {
      name: 'proftpd',
      label: `ProFTPD ${version} mod_sftp`.replace(/\s+/g, ' '),
      key: this.key,
      port,
      user: 'root',
      remote: (file) => path.join(dir, file),
      local: (file) => path.join(dir, file),
    };
  }

  async startOpenSsh(): Promise<Target> {
    const dir = path.join(this.work, 'dst-openssh');
    await mkdir(dir);
    // The concurrent case opens all its sessions at once.
    this.sshd = await startSshd(this.work, this.key, Math.max(100, this.options.sessions * 2));
    return {
      name: 'openssh',
      label: `OpenSSH (${sshVersion().split(',')[0]}, internal-sftp)`,
      key: this.key,
      port: this.sshd.port,
      user: 'root',
      remote: (file) => path.join(dir, file),
      local: (file) => path.join(dir, file),
    };
  }

  async startSluice(): Promise<Target> {
    const sluice = await SluiceProcess.start({
      work: this.work,
      env: {
        // The default (10 per user) would refuse most of the concurrent sessions.
        MFT_SFTP_MAX_CONNECTIONS_PER_USER: String(Math.max(10, this.options.sessions * 2)),
        // As sshd's MaxStartups: the default (20 waiting to sign in from one address) refuses
        // some of the concurrent sessions, all from 127.0.0.1, when handshakes are slow.
        MFT_SSH_MAX_UNAUTHENTICATED_PER_ADDRESS: String(Math.max(20, this.options.sessions * 2)),
      },
      nodeOptions: this.options.nodeOptions,
      cpuProf: this.options.cpuProf,
    });
    this.sluice = sluice;
    const publicKey = (await readFile(`${this.key}.pub`, 'utf8')).trim();
    await sluice.api(
      'POST',
      '/api/v1/users',
      { userName: 'bench', emailAddress: 'bench@example.com', sshPublicKeys: [publicKey] },
      await sluice.adminToken(),
    );
    return {
      name: 'sluice',
      label: 'Sluice',
      key: this.key,
      port: sluice.sftpPort,
      user: 'bench',
      remote: (file) => file,
      local: (file) => sluice.local('bench', file),
    };
  }

  /**
   * CPU seconds used so far by a server. OpenSSH: the listening sshd and every per-connection
   * process it forked (each reaps its own children, so their time adds up in the listener's
   * cutime/cstime once a session ends). ProFTPD likewise. Sluice: the node process, the
   * PostgreSQL postmaster with its reaped children, and its live backends.
   */
  async serverCpu(name: ServerName): Promise<{ total: number; pg: number }> {
    if (name === 'openssh') return { total: await this.sshd!.cpu(), pg: 0 };
    if (name === 'proftpd') {
      const pid = Number((await readFile(this.proftpdPidFile!, 'utf8')).trim());
      return { total: await cpuWithReaped(pid), pg: 0 };
    }
    return this.sluice!.cpu();
  }

  /** Resident memory of the Sluice node process, MiB (a leak shows as growth between cases). */
  sluiceRssMib(): Promise<number> {
    return this.sluice!.rssMib();
  }

  private statsClient: pg.Client | undefined;

  /**
   * Transactions committed or rolled back in Sluice's database so far (pg_stat_database),
   * less the ones this query itself made. PostgreSQL backends flush these counters when they
   * go idle, but at most once a second, and an idle backend holding counts back flushes them
   * within 10 s: callers wait STATS_SETTLE_MS after the work before reading.
   */
  async sluiceTransactions(): Promise<number> {
    this.statsClient ??= await this.sluice!.pgClient();
    const result = await this.statsClient.query<{ n: string }>(
      'SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()',
    );
    this.statsQueries += 1;
    return Number(result.rows[0]?.n ?? Number.NaN) - this.statsQueries;
  }

  private statsQueries = 0;

  /** Events in Sluice's store by type, read straight from the embedded PostgreSQL. */
  sluiceEvents(): Promise<Map<string, number>> {
    return this.sluice!.eventsByType();
  }

  /** After a failure: Sluice's events by type and the end of its log, before they are removed. */
  async explainFailure(): Promise<void> {
    // Interrupted: the servers are being stopped, which is what made the measurement fail.
    if (!this.sluice || this.cleaned) return;
    const events = await this.sluiceEvents().catch(() => undefined);
    if (events) log(`Sluice events so far: ${[...events].map(([type, n]) => `${type} ${n}`).join(', ')}`);
    await this.sluice.logTail();
  }

  /** Stops the servers; safe to call more than once. */
  cleanup(): Promise<void> {
    this.cleaned ??= (async () => {
      await this.statsClient?.end().catch(() => undefined);
      await this.sshd?.stop();
      const pid = Number((await readFile(this.proftpdPidFile ?? '', 'utf8').catch(() => '')).trim());
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {}
      }
      await this.sluice?.stop();
    })();
    return this.cleaned;
  }
}

// ---------------------------------------------------------------------------------------------
// The client: OpenSSH `sftp -b`, defaults (no -B/-R), public key, no known_hosts

class Client {
  constructor(private readonly bench: Bench) {}

  /** Runs one session with this batch; resolves with its stderr, rejects if sftp failed. */
  session(target: Target, commands: readonly string[], extra: readonly string[] = []): Promise<string> {
    return sftpSession(this.bench.work, target, commands, extra);
  }

  /** The cipher the client got and the request sizes it chose (from `sftp -vvv`). */
  async probe(target: Target): Promise<Probe> {
    const text = await this.session(target, ['pwd'], ['-vvv']);
    const cipher = (direction: string) => {
      const m = new RegExp(`kex: ${direction} cipher: (\\S+) MAC: (\\S+)`).exec(text);
      if (!m) return '?';
      return m[2] === '<implicit>' ? m[1]! : `${m[1]} + ${m[2]}`;
    };
    const up = cipher('client->server');
    const down = cipher('server->client');
    const sizes = /buffer sizes .*; using (\d+) \/ (\d+)/.exec(text);
    return {
      cipher: up === down ? up : `${up} up, ${down} down`,
      requests: sizes
        ? `${sizes[1]} B up / ${sizes[2]} B down (limits@openssh.com)`
        : '32768 B (no limits@openssh.com)',
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Cases

/** Server: sshd, proftpd or Sluice (node + PostgreSQL); client: sftp and ssh. */
interface Sample extends CaseTiming {
  /** Sluice only: PostgreSQL transactions in its database during the case (NaN otherwise). */
  readonly transactions: number;
}

interface CaseSpec {
  readonly name: CaseName;
  readonly title: string;
  readonly unit: string;
  /** What the per-item figures divide by (files, sessions) and its name. */
  readonly items: number;
  readonly item: string;
  /** Untimed preparation (removes the previous round's files). */
  before(target: Target): Promise<void>;
  /** Timed work; resolves with the amount (MiB or files) moved. */
  timed(target: Target): Promise<number>;
  /** Untimed check that the work really happened. */
  after(target: Target): Promise<void>;
}

function cases(bench: Bench, client: Client, o: Options): CaseSpec[] {
  const big = path.join(bench.work, 'big.bin');
  const back = path.join(bench.work, 'back.bin');
  const uploaded = new Set<ServerName>();
  const bigLabel = o.bigMib % 1024 === 0 ? `${o.bigMib / 1024} GiB` : `${o.bigMib} MiB`;
  const upload = (target: Target) => client.session(target, [`put ${big} ${target.remote('big.bin')}`]);
  /** The big file's cases: one file, MiB/s. */
  const bigCase = (
    name: 'upload' | 'download',
    steps: Pick<CaseSpec, 'before' | 'timed' | 'after'>,
  ): CaseSpec => ({
    name,
    title: `${name} ${bigLabel}`,
    unit: 'MiB/s',
    items: 1,
    item: 'file',
    ...steps,
  });
  const all: CaseSpec[] = [
    bigCase('upload', {
      before: async (t) => {
        await rm(t.local('big.bin'), { force: true });
      },
      timed: async (t) => {
        await upload(t);
        return o.bigMib;
      },
      after: async (t) => {
        await expectSize(t.local('big.bin'), o.bigMib * MiB);
        uploaded.add(t.name);
      },
    }),
    bigCase('download', {
      before: async (t) => {
        await rm(back, { force: true });
        if (!uploaded.has(t.name)) {
          await upload(t);
          uploaded.add(t.name);
        }
      },
      timed: async (t) => {
        await client.session(t, [`get ${t.remote('big.bin')} ${back}`]);
        return o.bigMib;
      },
      after: async () => {
        await expectSize(back, o.bigMib * MiB);
        await rm(back, { force: true });
      },
    }),
    {
      name: 'small',
      title: `${o.small.toLocaleString('en')} × 4 KiB, 1 session`,
      unit: 'files/s',
      items: o.small,
      item: 'file',
      before: async (t) => {
        for (let i = 1; i <= o.small; i++) await rm(t.local(`s${i}`), { force: true });
      },
      timed: async (t) => {
        const commands: string[] = [];
        for (let i = 1; i <= o.small; i++) {
          commands.push(`put ${path.join(bench.work, 'small', `f${i}`)} ${t.remote(`s${i}`)}`);
        }
        await client.session(t, commands);
        return o.small;
      },
      after: async (t) => {
        for (let i = 1; i <= o.small; i++) await expectSize(t.local(`s${i}`), 4096);
      },
    },
    {
      name: 'concurrent',
      title: `${o.sessions} sessions × ${o.sessionMib} MiB up`,
      unit: 'MiB/s',
      items: o.sessions,
      item: 'session',
      before: async (t) => {
        for (let i = 1; i <= o.sessions; i++) await rm(t.local(`c${i}.bin`), { force: true });
      },
      timed: async (t) => {
        const file = path.join(bench.work, 'session.bin');
        const sessions: Promise<string>[] = [];
        for (let i = 1; i <= o.sessions; i++)
          sessions.push(client.session(t, [`put ${file} ${t.remote(`c${i}.bin`)}`]));
        await Promise.all(sessions);
        return o.sessions * o.sessionMib;
      },
      after: async (t) => {
        for (let i = 1; i <= o.sessions; i++) await expectSize(t.local(`c${i}.bin`), o.sessionMib * MiB);
      },
    },
  ];
  return all.filter((c) => o.cases.includes(c.name));
}

async function measure(bench: Bench, spec: CaseSpec, target: Target): Promise<Sample> {
  await spec.before(target);
  const counting = target.name === 'sluice';
  const transactions0 = counting ? await bench.sluiceTransactions() : Number.NaN;
  const timing = await measureCase(
    () => bench.serverCpu(target.name),
    () => spec.timed(target),
  );
  if (counting) await sleep(STATS_SETTLE_MS);
  const transactions = counting ? (await bench.sluiceTransactions()) - transactions0 : Number.NaN;
  await spec.after(target);
  return { ...timing, transactions };
}

// ---------------------------------------------------------------------------------------------
// Report

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parseOptions();
  await withServers(
    'sftp',
    o.keep,
    (work) => new Bench(work, o),
    async (bench, work) => {
      const load = os.loadavg()[0]!;
      log(`bench/sftp: ${work}; load ${load.toFixed(2)} on ${os.cpus().length} cores`);
      await bench.prepare();
      const targets: Target[] = [];
      if (o.servers.includes('openssh')) targets.push(await bench.startOpenSsh());
      if (o.servers.includes('proftpd')) targets.push(await bench.startProftpd());
      if (o.servers.includes('sluice')) {
        log('starting Sluice');
        targets.push(await bench.startSluice());
      }
      const client = new Client(bench);
      const probes = new Map<ServerName, Probe>();
      for (const t of targets) probes.set(t.name, await client.probe(t));

      const specs = cases(bench, client, o);
      const samples = new Map<string, Sample[]>(); // `${case}/${server}`
      for (let round = 1; round <= o.rounds; round++) {
        const order = round % 2 === 1 ? targets : [...targets].reverse();
        for (const spec of specs) {
          for (const t of order) {
            const s = await measure(bench, spec, t);
            const key = `${spec.name}/${t.name}`;
            samples.set(key, [...(samples.get(key) ?? []), s]);
            const rss = t.name === 'sluice' ? `  RSS ${(await bench.sluiceRssMib()).toFixed(0)} MiB` : '';
            log(
              `round ${round}/${o.rounds}  ${spec.title.padEnd(28)} ${t.name.padEnd(8)} ${figure(s.rate).padStart(6)} ${spec.unit}  ${s.seconds.toFixed(2)} s  CPU server ${s.serverCpu.toFixed(1)} s${t.name === 'sluice' ? ` (PostgreSQL ${s.pgCpu.toFixed(1)} s)` : ''} client ${s.clientCpu.toFixed(1)} s  load ${os.loadavg()[0]!.toFixed(2)}${rss}${t.name === 'sluice' ? `  ${figure(s.transactions / spec.items)} PostgreSQL transactions/${spec.item}` : ''}`,
            );
          }
        }
      }

      const events = targets.some((t) => t.name === 'sluice') ? await bench.sluiceEvents() : undefined;

      // --- tables (stdout)
      const out: string[] = [];
      out.push(
        `bench/sftp — ${new Date().toISOString()}, ${os.hostname()}, ${os.cpus().length} cores, node ${process.version}, ` +
          `medians of ${o.rounds} round${o.rounds > 1 ? 's' : ''} (servers alternate first), client: sftp of ${sshVersion()}`,
      );
      out.push('');
      const header = ['case', 'unit'];
      for (const t of targets) header.push(SERVER_TITLES[t.name]);
      const peers = targets.filter((t) => t.name !== 'sluice');
      const ratios = peers.length > 0 && targets.some((t) => t.name === 'sluice');
      if (ratios) {
        for (const p of peers) header.push(`Sluice/${SERVER_TITLES[p.name]}`);
        if (peers.length > 1) header.push('Sluice/best');
      }
      for (const t of targets) header.push(`${SERVER_TITLES[t.name]} rounds`);
      for (const t of targets) header.push(`${SERVER_TITLES[t.name]} CPU s srv+cli`);
      const rows: string[][] = [header];
      for (const spec of specs) {
        const row = [spec.title, spec.unit];
        const med = new Map<ServerName, number>();
        for (const t of targets) {
          const m = median((samples.get(`${spec.name}/${t.name}`) ?? []).map((s) => s.rate));
          med.set(t.name, m);
          row.push(figure(m));
        }
        if (ratios) {
          for (const p of peers) row.push((med.get('sluice')! / med.get(p.name)!).toFixed(2));
          if (peers.length > 1) {
            row.push((med.get('sluice')! / Math.max(...peers.map((p) => med.get(p.name)!))).toFixed(2));
          }
        }
        for (const t of targets) {
          row.push((samples.get(`${spec.name}/${t.name}`) ?? []).map((s) => figure(s.rate)).join(' '));
        }
        for (const t of targets) {
          const list = samples.get(`${spec.name}/${t.name}`) ?? [];
          const server = median(list.map((s) => s.serverCpu)).toFixed(1);
          row.push(`${server}+${median(list.map((s) => s.clientCpu)).toFixed(1)}`);
        }
        rows.push(row);
      }
      const numeric = header.map((_, i) => i).filter((i) => i >= 2);
      out.push(columns(rows, numeric));
      out.push('');
      if (targets.some((t) => t.name === 'sluice')) {
        const costs: string[][] = [
          ['case', 'per', 'PostgreSQL transactions', 'Node CPU ms', 'PostgreSQL CPU ms'],
        ];
        for (const spec of specs) {
          const list = samples.get(`${spec.name}/sluice`) ?? [];
          const per = (f: (s: Sample) => number) => figure(median(list.map(f)) / spec.items);
          costs.push([
            spec.title,
            spec.item,
            per((s) => s.transactions),
            per((s) => (s.serverCpu - s.pgCpu) * 1000),
            per((s) => s.pgCpu * 1000),
          ]);
        }
        out.push('Sluice per file or session (medians over the rounds):');
        out.push(columns(costs, [2, 3, 4]));
        out.push('');
      }
      out.push(
        'CPU s srv+cli: CPU seconds of the server (sshd or proftpd and their session processes; Sluice node + PostgreSQL)',
      );
      out.push(
        '  and of the sftp/ssh client processes during the case, medians. Load when done: ' +
          os
            .loadavg()
            .map((l) => l.toFixed(2))
            .join(' '),
      );
      for (const t of targets) {
        const p = probes.get(t.name)!;
        out.push(`${t.label}: cipher ${p.cipher}; client requests ${p.requests}; port ${t.port}`);
      }
      if (events) {
        const total = [...events.values()].reduce((a, b) => a + b, 0);
        const perRound =
          (o.cases.includes('upload') || o.cases.includes('download') ? 1 : 0) +
          (o.cases.includes('small') ? o.small : 0) +
          (o.cases.includes('concurrent') ? o.sessions : 0);
        out.push(
          `Sluice events recorded: ${total} in all; FileUploaded ${events.get('FileUploaded') ?? 0} ` +
            `(files uploaded: ${perRound * o.rounds}), FileDownloaded ${events.get('FileDownloaded') ?? 0}; by type: ` +
            [...events].map(([type, n]) => `${type} ${n}`).join(', '),
        );
      }
      process.stdout.write(`${out.join('\n')}\n`);
    },
  );
}

runBench('bench:sftp', main);
