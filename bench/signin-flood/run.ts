/**
 * `npm run bench:signin-flood`: real users' sign-in latency, idle and while 8 attackers flood
 * wrong passwords from other addresses (127.0.0.2 … 127.0.0.9) at other users, for HTTP
 * (OpenImmutable, node:http) and SSH (password, ssh2's client: TCP, key exchange, sign-in).
 * Runs the real server (`src/main.ts`, embedded PostgreSQL) once per defender setting. See
 * bench/README.md.
 *
 *   --samples N   sign-ins of each protocol per phase (default 40; env BENCH_SAMPLES)
 *   --settings L  any of defender,delays-only,none (default all)
 *
 * Prints tables only; writes no result files. Figures are for reading, never for assertions.
 */

import { chmod, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import { SluiceProcess } from '../support/sluice.js';

const ADMIN_PASSWORD = 'bench-admin-password';
const PASSWORD = 'bench-real-password';
const ATTACKERS = 8;

const SETTINGS = {
  /** The defaults: holds from the third failure, a ban at the tenth. */
  defender: {},
  /** No bans (a limit never reached): only the growing holds slow the flood. */
  'delays-only': {
    MFT_DEFENDER_MAX_FAILURES_PER_ADDRESS: '1000000',
    MFT_DEFENDER_MAX_FAILURES_PER_USER: '1000000',
  },
  /** Neither bans nor holds: every wrong password is checked at once. */
  none: {
    MFT_DEFENDER_MAX_FAILURES_PER_ADDRESS: '1000000',
    MFT_DEFENDER_MAX_FAILURES_PER_USER: '1000000',
    MFT_DEFENDER_DELAY_MS: '0',
  },
} as const;
type Setting = keyof typeof SETTINGS;

function option(name: string, env: string): string | undefined {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1];
    if (args[i]?.startsWith(`--${name}=`)) return args[i]!.slice(name.length + 3);
  }
  return process.env[env];
}

const samples = Number(option('samples', 'BENCH_SAMPLES') ?? 40);
const settings = (option('settings', 'BENCH_SETTINGS') ?? Object.keys(SETTINGS).join(',')).split(',');
if (!Number.isSafeInteger(samples) || samples < 2) throw new Error('--samples: a whole number of at least 2');
for (const s of settings) if (!(s in SETTINGS)) throw new Error(`--settings: unknown "${s}"`);

const progress = (line: string) => process.stderr.write(`${line}\n`);

/** One HTTP JSON request; resolves with the status and the parsed body. */
function request(
  base: string,
  method: string,
  route: string,
  body: unknown,
  options: { token?: string; agent?: http.Agent } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}${route}`,
      {
        method,
        ...(options.agent ? { agent: options.agent } : {}),
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const signInBody = (userName: string, password: string) => ({ userName, password, applicationId: 2 });

/** An SSH password sign-in from `localAddress`; resolves true when accepted, false when refused. */
function sshSignIn(port: number, userName: string, password: string, localAddress: string): Promise<boolean> {
  return new Promise((resolve) => {
    const client = new ssh2.Client();
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      client.end();
      resolve(ok);
    };
    client.on('ready', () => done(true));
    client.on('error', () => done(false));
    client.on('close', () => done(false));
    client.connect({
      host: '127.0.0.1',
      port,
      localAddress,
      username: userName,
      password,
      tryKeyboard: false,
      readyTimeout: 60_000,
      hostVerifier: () => true,
    });
  });
}

interface Flood {
  stop(): Promise<{ attempts: number; byOutcome: Record<string, number> }>;
}

/** 8 attackers, each from its own address at its own user: 4 over HTTP, 4 over SSH, one attempt at a time. */
function flood(base: string, sshPort: number): Flood {
  let running = true;
  const byOutcome: Record<string, number> = {};
  let attempts = 0;
  const count = (outcome: string) => {
    attempts++;
    byOutcome[outcome] = (byOutcome[outcome] ?? 0) + 1;
  };
  const loops = Array.from({ length: ATTACKERS }, async (_, i) => {
    const localAddress = `127.0.0.${i + 2}`;
    const target = `victim${i + 1}`;
    const agent = new http.Agent({ keepAlive: true, localAddress } as http.AgentOptions);
    for (let n = 0; running; n++) {
      if (i % 2 === 0) {
        const res = await request(
          base,
          'POST',
          '/api/v1/sessions/open-immutable',
          signInBody(target, `guess ${n}`),
          {
            agent,
          },
        ).catch(() => ({ status: 0 }));
        count(`HTTP ${res.status}`);
      } else {
        count(
          (await sshSignIn(sshPort, target, `guess ${n}`, localAddress)) ? 'SSH accepted' : 'SSH refused',
        );
      }
    }
    agent.destroy();
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return { attempts, byOutcome };
    },
  };
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;

interface Latency {
  readonly p50: number;
  readonly p95: number;
}

/** `samples` sign-ins of the real user over each protocol, alternating, one at a time. */
async function measure(base: string, sshPort: number): Promise<{ http: Latency; ssh: Latency }> {
  const times = { http: [] as number[], ssh: [] as number[] };
  for (let i = 0; i < samples; i++) {
    let start = performance.now();
    const res = await request(base, 'POST', '/api/v1/sessions/open-immutable', signInBody('real', PASSWORD));
    if (res.status !== 201) throw new Error(`the real user's HTTP sign-in failed: ${res.status}`);
    times.http.push(performance.now() - start);
    start = performance.now();
    if (!(await sshSignIn(sshPort, 'real', PASSWORD, '127.0.0.1')))
      throw new Error("the real user's SSH sign-in failed");
    times.ssh.push(performance.now() - start);
  }
  const summary = (list: number[]): Latency => {
    const sorted = [...list].sort((a, b) => a - b);
    return { p50: percentile(sorted, 50), p95: percentile(sorted, 95) };
  };
  return { http: summary(times.http), ssh: summary(times.ssh) };
}

interface Row {
  readonly setting: Setting;
  readonly protocol: string;
  readonly idle: Latency;
  readonly flood: Latency;
}

async function run(setting: Setting): Promise<{ rows: Row[]; attackers: string }> {
  progress(`${setting}: starting Sluice (embedded PostgreSQL)`);
  const work = await mkdtemp(path.join(os.tmpdir(), 'sluice-bench-signin-flood-'));
  await chmod(work, 0o755); // Sluice's data is in it, and its PostgreSQL runs as user postgres
  const server = await SluiceProcess.start({
    work,
    env: { MFT_ADMIN_PASSWORD: ADMIN_PASSWORD, ...SETTINGS[setting] },
  });
  try {
    const base = server.base;
    const sshPort = server.sftpPort;
    const admin = await request(base, 'POST', '/api/v1/sessions/open-immutable', {
      userName: 'admin',
      password: ADMIN_PASSWORD,
      applicationId: 1,
    });
    const token = String(admin.body.token);
    for (const userName of ['real', ...Array.from({ length: ATTACKERS }, (_, i) => `victim${i + 1}`)]) {
      const res = await request(
        base,
        'POST',
        '/api/v1/users',
        { userName, emailAddress: `${userName}@example.com`, password: PASSWORD },
        { token },
      );
      if (res.status !== 201) throw new Error(`creating ${userName}: ${res.status}`);
    }
    await measure(base, sshPort); // warm-up, not counted
    progress(`${setting}: idle`);
    const idle = await measure(base, sshPort);
    progress(`${setting}: under the flood`);
    const attack = flood(base, sshPort);
    await new Promise((r) => setTimeout(r, 1000));
    const flooded = await measure(base, sshPort);
    const { attempts, byOutcome } = await attack.stop();
    const outcomes = Object.entries(byOutcome)
      .sort()
      .map(([k, n]) => `${k} ×${n}`)
      .join(', ');
    return {
      rows: [
        { setting, protocol: 'HTTP OpenImmutable', idle: idle.http, flood: flooded.http },
        { setting, protocol: 'SSH password (ssh2)', idle: idle.ssh, flood: flooded.ssh },
      ],
      attackers: `${setting}: ${attempts} attacker attempts (${outcomes})`,
    };
  } finally {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
}

const rows: Row[] = [];
const notes: string[] = [];
for (const setting of settings as Setting[]) {
  const result = await run(setting);
  rows.push(...result.rows);
  notes.push(result.attackers);
}

const ms = (n: number) => n.toFixed(1);
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
console.log(
  `\nReal users' sign-in latency, idle vs under ${ATTACKERS} attackers (${samples} sign-ins per protocol and phase; ${os.cpus().length} cores, load ${os.loadavg()[0]?.toFixed(2)})\n`,
);
console.log(
  '| setting | protocol | idle p50 ms | idle p95 ms | flood p50 ms | flood p95 ms | p50 ratio | p95 ratio |',
);
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  console.log(
    `| ${r.setting} | ${r.protocol} | ${ms(r.idle.p50)} | ${ms(r.idle.p95)} | ${ms(r.flood.p50)} | ${ms(r.flood.p95)} | ${ratio(r.flood.p50, r.idle.p50)} | ${ratio(r.flood.p95, r.idle.p95)} |`,
  );
}
console.log('');
for (const note of notes) console.log(note);
