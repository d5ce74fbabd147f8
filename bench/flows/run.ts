/**
 * `npm run bench:flows -- [--files=N] [--big-mib=N] [--rounds=N] [--poll-ms=N] [--concurrency=N]`:
 * what flows (docs/flows.md) cost and how fast they move files, end to end, with the real
 * Sluice (`src/main.ts`, embedded PostgreSQL) and a real OpenSSH sshd as the outside server,
 * against what a cron script would do instead: OpenSSH `sftp -b` putting the same files
 * straight to that sshd. Rounds alternate which side goes first. See bench/README.md.
 *
 *   --files=N        4 KiB files per small case (default 200; env BENCH_FILES)
 *   --big-mib=N      the big file, MiB (default 256; env BENCH_BIG_MIB)
 *   --rounds=N       rounds (default 3; env BENCH_ROUNDS)
 *   --poll-ms=N      Sluice's MFT_DELIVERY_POLL_MS (default 1000, the server's; env BENCH_POLL_MS)
 *   --concurrency=N  Sluice's MFT_DELIVERY_CONCURRENCY (default 4, the server's; env BENCH_CONCURRENCY)
 *
 * A flow case is timed from the start of the upload (`sftp -b` into the flow's source folder)
 * to the last DeliverySucceeded's time (the deliveries view's updatedAt); each file's latency
 * is from its FileUploaded (the audit view's `at`, found by the delivery's causePosition) to its
 * DeliverySucceeded. The overhead case uploads the same files to a user with no flow and no
 * notifier defined, and with 5 flows and 3 notifiers defined on that user that match none of
 * them. Prints tables only; figures are for reading, never for assertions.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  figure,
  log,
  machine,
  median,
  parseOptions,
  percentile,
  runBench,
  table,
  withWorkDir,
} from '../support/common.js';
import { expectSize, sha256File, writeRandomFile } from '../support/files.js';
import { makeKey, type SftpLogin, sftpSession, sshVersion, startSshd } from '../support/openssh.js';
import { SluiceProcess } from '../support/sluice.js';

const KiB = 1024;
const SMALL_BYTES = 4 * KiB;
const MB = 1_000_000;
/** How often the benchmark asks whether the deliveries are done (the end time is the server's, not this). */
const WATCH_MS = 100;

interface Delivery {
  readonly deliveryId: string;
  readonly state: string;
  readonly causePosition: number;
  readonly lastError: string | null;
  readonly updatedAt: string;
}

interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

/** The running pieces and the people in them. */
interface Bench {
  readonly work: string;
  readonly sluice: SluiceProcess;
  readonly admin: string;
  readonly ids: Record<'partner' | 'finance' | 'plain', number>;
  /** Signing in to Sluice as a user with the bench key. */
  readonly login: (user: string) => SftpLogin;
  /** Signing in to sshd as root with the same key. */
  readonly sshd: SftpLogin & { readonly hostKeySha256: string };
  readonly key: string;
}

/** Every page of a list. */
async function all<T>(bench: Bench, route: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const page: Page<T> = await bench.sluice.api<Page<T>>(
      'GET',
      `${route}${route.includes('?') ? '&' : '?'}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      undefined,
      bench.admin,
    );
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

/** Waits until `count` deliveries of the flow have succeeded; throws on a dead letter. */
async function succeeded(bench: Bench, flowId: string, count: number): Promise<Delivery[]> {
  for (;;) {
    const list = await all<Delivery>(bench, `/api/v1/deliveries?ownerId=${flowId}`);
    const dead = list.find((d) => d.state === 'dead');
    if (dead) throw new Error(`delivery ${dead.deliveryId} dead-lettered: ${dead.lastError}`);
    if (list.length >= count && list.every((d) => d.state === 'succeeded')) return list;
    await new Promise((resolve) => setTimeout(resolve, WATCH_MS));
  }
}

/** When each upload below `folder` of `user` was recorded (audit view), by global position. */
async function uploadTimes(bench: Bench, user: string, folder: string, minPosition: number) {
  const rows = await all<{ position: number; at: string }>(
    bench,
    `/api/v1/audit/events?operation=file.upload&userName=${user}&path=${encodeURIComponent(`${folder}/`)}&minPosition=${minPosition}`,
  );
  return new Map(rows.map((r) => [r.position, Date.parse(r.at)]));
}

async function defineFlow(bench: Bench, body: Record<string, unknown>): Promise<string> {
  return (await bench.sluice.api<{ flowId: string }>('POST', '/api/v1/flows', body, bench.admin)).flowId;
}

interface Sample {
  /** files/s or MB/s */
  readonly rate: number;
  /** Sluice's CPU seconds (node + PostgreSQL) during the case. */
  readonly cpu: number;
  /** Per file, ms from FileUploaded to DeliverySucceeded (flow cases). */
  readonly latencies: readonly number[];
}

/** Times `work` (which resolves with its end time, ms since the epoch) and Sluice's CPU meanwhile. */
async function timed(bench: Bench, amount: number, work: () => Promise<number>): Promise<Sample> {
  const cpu0 = await bench.sluice.cpu();
  const started = Date.now();
  const ended = await work();
  const cpu1 = await bench.sluice.cpu();
  return { rate: amount / ((ended - started) / 1000), cpu: cpu1.total - cpu0.total, latencies: [] };
}

/** `put` commands for the small files into `folder` (made first). */
function puts(work: string, files: number, folder: string): string[] {
  const commands = [`-mkdir ${folder}`];
  for (let i = 1; i <= files; i++) commands.push(`put ${path.join(work, 'small', `f${i}`)} ${folder}/f${i}`);
  return commands;
}

/**
 * Uploads `files` (or the big file) into a fresh folder of the partner's that a new flow to
 * `target` watches; ends at the last DeliverySucceeded. The flow is removed afterwards.
 */
async function throughFlow(
  bench: Bench,
  name: string,
  target: Record<string, unknown>,
  commands: (folder: string) => string[],
  count: number,
  amount: number,
): Promise<Sample> {
  const folder = `/${name}`;
  const flowId = await defineFlow(bench, {
    name,
    sourceUserId: bench.ids.partner,
    sourceFolder: folder,
    match: { kind: 'glob', pattern: '*' },
    ...target,
  });
  let done: Delivery[] = [];
  const sample = await timed(bench, amount, async () => {
    await sftpSession(bench.work, bench.login('partner'), commands(folder));
    done = await succeeded(bench, flowId, count);
    return Math.max(...done.map((d) => Date.parse(d.updatedAt)));
  });
  const uploaded = await uploadTimes(bench, 'partner', folder, Math.max(...done.map((d) => d.causePosition)));
  const latencies = done.map((d) => Date.parse(d.updatedAt) - uploaded.get(d.causePosition)!);
  if (latencies.some((l) => !Number.isFinite(l))) throw new Error(`${name}: an upload without its audit row`);
  await bench.sluice.api('DELETE', `/api/v1/flows/${flowId}`, undefined, bench.admin);
  return { ...sample, latencies };
}

/** One `sftp -b` session, timed to its end: straight to sshd as a cron script would, or a plain upload to Sluice. */
function plainSession(bench: Bench, login: SftpLogin, commands: string[], amount: number): Promise<Sample> {
  return timed(bench, amount, async () => {
    await sftpSession(bench.work, login, commands);
    return Date.now();
  });
}

/** 5 flows and 3 notifiers on the plain user's uploads that match none of the bench's files. */
async function defineDecoys(bench: Bench): Promise<() => Promise<void>> {
  const flows: string[] = [];
  const notifiers: string[] = [];
  for (let i = 1; i <= 5; i++) {
    flows.push(
      await defineFlow(bench, {
        name: `decoy ${i}`,
        sourceUserId: bench.ids.plain,
        sourceFolder: '/',
        match: { kind: 'glob', pattern: `**/*.never${i}` },
        target: { kind: 'user', userId: bench.ids.finance, folder: `/decoy${i}` },
      }),
    );
  }
  for (let i = 1; i <= 3; i++) {
    const defined = await bench.sluice.api<{ notifierId: string }>(
      'POST',
      '/api/v1/notifiers',
      {
        name: `decoy ${i}`,
        filter: { operations: ['file.upload'], users: ['plain'], paths: [`/elsewhere${i}/**`] },
        channel: { kind: 'webhook', url: 'http://127.0.0.1:9/never' },
      },
      bench.admin,
    );
    notifiers.push(defined.notifierId);
  }
  return async () => {
    for (const id of flows) await bench.sluice.api('DELETE', `/api/v1/flows/${id}`, undefined, bench.admin);
    for (const id of notifiers) {
      await bench.sluice.api('DELETE', `/api/v1/notifiers/${id}`, undefined, bench.admin);
    }
  };
}

const CASES = {
  toUser: 'user → user flow',
  toSshd: 'user → sshd flow',
  reference: 'sftp -b straight to sshd',
  bigFlow: 'big file, user → sshd flow',
  bigDirect: 'big file, sftp put to sshd',
  bare: 'uploads, no flow or notifier',
  decoys: 'uploads, 5 flows + 3 notifiers not matching',
} as const;
type CaseName = keyof typeof CASES;

const parseArguments = () =>
  parseOptions('bench:flows', {
    files: { env: 'BENCH_FILES', fallback: 200 },
    'big-mib': { env: 'BENCH_BIG_MIB', fallback: 256 },
    rounds: { env: 'BENCH_ROUNDS', fallback: 3 },
    'poll-ms': { env: 'BENCH_POLL_MS', fallback: 1000 },
    concurrency: { env: 'BENCH_CONCURRENCY', fallback: 4 },
  });
type Options = ReturnType<typeof parseArguments>;

/** The tables: medians of the rounds, Sluice ÷ reference, Sluice's CPU; latencies over all rounds' files. */
function report(o: Options, samples: Map<CaseName, Sample[]>): string {
  const of = (name: CaseName) => samples.get(name) ?? [];
  const rate = (name: CaseName) => median(of(name).map((s) => s.rate));
  const row = (name: CaseName, reference: CaseName, unit: string) => [
    CASES[name],
    unit,
    figure(rate(name)),
    CASES[reference],
    figure(rate(reference)),
    (rate(name) / rate(reference)).toFixed(2),
    of(name)
      .map((s) => figure(s.rate))
      .join(' '),
    median(of(name).map((s) => s.cpu)).toFixed(1),
    median(of(reference).map((s) => s.cpu)).toFixed(1),
  ];
  const files = `${o.files} × 4 KiB`;
  const latency = (name: CaseName) => {
    const sorted = of(name)
      .flatMap((s) => s.latencies)
      .sort((a, b) => a - b);
    return [
      CASES[name],
      String(sorted.length),
      figure(percentile(sorted, 50)),
      figure(percentile(sorted, 95)),
      figure(sorted.at(-1) ?? Number.NaN),
    ];
  };
  return [
    `bench/flows — ${new Date().toISOString()}; ${machine()}; client: sftp of ${sshVersion()}`,
    `medians of ${o.rounds} round${o.rounds > 1 ? 's' : ''} (alternating which goes first); ` +
      `MFT_DELIVERY_POLL_MS=${o['poll-ms']}, MFT_DELIVERY_CONCURRENCY=${o.concurrency}`,
    table(
      'Sluice ÷ reference (files/s end to end: upload started → last DeliverySucceeded; MB = 10^6 bytes)',
      [
        'Sluice case',
        'unit',
        'Sluice',
        'reference',
        'ref.',
        'Sluice ÷ ref.',
        'Sluice rounds',
        'Sluice CPU s',
        'Sluice CPU s in ref.',
      ],
      [
        row('toUser', 'reference', `files/s, ${files}`),
        row('toSshd', 'reference', `files/s, ${files}`),
        row('bigFlow', 'bigDirect', `MB/s, ${o['big-mib']} MiB`),
        row('decoys', 'bare', `files/s, ${files}`),
      ],
    ),
    table(
      'Latency per file, FileUploaded → DeliverySucceeded (recorded times), all rounds',
      ['flow', 'files', 'p50 ms', 'p95 ms', 'max ms'],
      [latency('toUser'), latency('toSshd'), latency('bigFlow')],
    ),
    `Load when done: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const o = parseArguments();
  await withWorkDir('flows', async (work, onCleanup) => {
    let sluice: SluiceProcess | undefined;
    try {
      log(`bench/flows: ${work}; ${machine()}`);
      const key = path.join(work, 'user_ed25519');
      makeKey(key);
      await mkdir(path.join(work, 'small'));
      for (let i = 1; i <= o.files; i++)
        await writeFile(path.join(work, 'small', `f${i}`), randomBytes(SMALL_BYTES));
      log(`writing a ${o['big-mib']} MiB random file`);
      const bigBytes = o['big-mib'] * 1024 * KiB;
      const bigSha = await writeRandomFile(path.join(work, 'big.bin'), bigBytes);
      const area = path.join(work, 'sshd-area');
      await mkdir(area);
      const sshd = await startSshd(work, key);
      onCleanup(() => sshd.stop());
      log('starting Sluice');
      sluice = await SluiceProcess.start({
        work,
        env: {
          MFT_DELIVERY_POLL_MS: String(o['poll-ms']),
          MFT_DELIVERY_CONCURRENCY: String(o.concurrency),
        },
      });
      onCleanup(() => sluice!.stop());
      const admin = await sluice.adminToken();
      const publicKey = (await readFile(`${key}.pub`, 'utf8')).trim();
      const privateKey = await readFile(key, 'utf8');
      const ids = { partner: 0, finance: 0, plain: 0 };
      for (const userName of ['partner', 'finance', 'plain'] as const) {
        const made = await sluice.api<{ userId: number }>(
          'POST',
          '/api/v1/users',
          { userName, emailAddress: `${userName}@example.com`, sshPublicKeys: [publicKey] },
          admin,
        );
        ids[userName] = made.userId;
      }
      const bench: Bench = {
        work,
        sluice,
        admin,
        ids,
        key,
        login: (user) => ({ key, port: sluice!.sftpPort, user, label: `Sluice as ${user}` }),
        sshd: { key, port: sshd.port, user: 'root', label: 'sshd', hostKeySha256: sshd.hostKeySha256 },
      };
      const sshdTarget = (directory: string) => ({
        target: {
          kind: 'sftp',
          host: '127.0.0.1',
          port: sshd.port,
          username: 'root',
          hostKeySha256: sshd.hostKeySha256,
          directory,
          auth: 'key',
        },
        credentials: { privateKey },
      });

      const samples = new Map<CaseName, Sample[]>();
      const record = (name: CaseName, sample: Sample, round: number) => {
        samples.set(name, [...(samples.get(name) ?? []), sample]);
        const unit = name.startsWith('big') ? 'MB/s' : 'files/s';
        const lat = sample.latencies.length
          ? `  latency p50 ${percentile(
              [...sample.latencies].sort((a, b) => a - b),
              50,
            )} ms`
          : '';
        log(
          `round ${round}/${o.rounds}  ${CASES[name].padEnd(44)} ${figure(sample.rate).padStart(6)} ${unit}  Sluice CPU ${sample.cpu.toFixed(1)} s${lat}  load ${os.loadavg()[0]!.toFixed(2)}`,
        );
      };
      const files = o.files;
      const big = path.join(work, 'big.bin');
      for (let round = 1; round <= o.rounds; round++) {
        const ref = (name: string) => path.join(area, `r${round}-${name}`);
        const toSshd = async (
          name: string,
          commands: (folder: string) => string[],
          count: number,
          amount: number,
        ) => {
          await mkdir(ref(name));
          return throughFlow(bench, `r${round}-${name}`, sshdTarget(ref(name)), commands, count, amount);
        };
        const groups: Array<Array<[CaseName, () => Promise<Sample>]>> = [
          [
            [
              'toUser',
              () =>
                throughFlow(
                  bench,
                  `r${round}-to-user`,
                  { target: { kind: 'user', userId: ids.finance, folder: `/r${round}-in` } },
                  (folder) => puts(work, files, folder),
                  files,
                  files,
                ),
            ],
            ['toSshd', () => toSshd('flow', (folder) => puts(work, files, folder), files, files)],
            ['reference', () => plainSession(bench, bench.sshd, puts(work, files, ref('direct')), files)],
          ],
          [
            [
              'bigFlow',
              () =>
                toSshd(
                  'big-flow',
                  (folder) => [`-mkdir ${folder}`, `put ${big} ${folder}/big.bin`],
                  1,
                  bigBytes / MB,
                ),
            ],
            [
              'bigDirect',
              () => plainSession(bench, bench.sshd, [`put ${big} ${ref('big.bin')}`], bigBytes / MB),
            ],
          ],
          [
            [
              'decoys',
              async () => {
                const remove = await defineDecoys(bench);
                try {
                  return await plainSession(
                    bench,
                    bench.login('plain'),
                    puts(work, files, `/r${round}-decoys`),
                    files,
                  );
                } finally {
                  await remove();
                }
              },
            ],
            [
              'bare',
              () => plainSession(bench, bench.login('plain'), puts(work, files, `/r${round}-bare`), files),
            ],
          ],
        ];
        for (const group of groups) {
          for (const [name, measure] of round % 2 === 1 ? group : [...group].reverse()) {
            record(name, await measure(), round);
          }
        }
        // Untimed: every file is where it should be, then the sshd's copies go (the disk is not the subject).
        const smallIn = async (dir: string) => {
          for (let i = 1; i <= files; i++) await expectSize(path.join(dir, `f${i}`), SMALL_BYTES);
        };
        await smallIn(ref('flow'));
        await smallIn(ref('direct'));
        await smallIn(sluice.local('finance', `r${round}-in`));
        await smallIn(sluice.local('plain', `r${round}-decoys`));
        await smallIn(sluice.local('plain', `r${round}-bare`));
        for (const copy of [path.join(ref('big-flow'), 'big.bin'), ref('big.bin')]) {
          if ((await sha256File(copy)) !== bigSha) throw new Error(`${copy}: not the big file's bytes`);
        }
        await rm(area, { recursive: true, force: true });
        await mkdir(area);
      }
      // The decoys matched nothing: the only deliveries are the measured flows' own.
      const deliveries = await all<Delivery>(bench, '/api/v1/deliveries');
      if (deliveries.length !== o.rounds * (2 * files + 1)) {
        throw new Error(`${deliveries.length} deliveries, expected ${o.rounds * (2 * files + 1)}`);
      }
      process.stdout.write(`${report(o, samples)}\n`);
    } catch (error) {
      await sluice?.logTail();
      throw error;
    }
  });
}

runBench('bench:flows', main);
