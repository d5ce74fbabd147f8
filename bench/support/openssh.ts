/**
 * OpenSSH for the benchmarks: a real `sshd` with `internal-sftp` as the reference server (and as
 * the outside peer a flow sends to), and the OpenSSH `sftp -b` client at its defaults, as a cron
 * script would run it. The sshd runs as a daemon from its own config in the benchmark's
 * directory, lets root in with the benchmark's key only, and is measured through its pid file.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort } from '../../test/support/free-port.js';
import { UsageError } from './common.js';
import { cpuWithReaped, run, sleep } from './processes.js';

const SSHD = '/usr/sbin/sshd';

export async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** Refuses to go on (a usage error) when `file` is missing: `message` says what to install. */
export async function requireFile(file: string, message: string): Promise<void> {
  if (!(await exists(file))) throw new UsageError(`${file} ${message}`);
}

/** `ssh -V` prints to stderr; sshd and sftp come from the same package. */
export function sshVersion(): string {
  const r = spawnSync('ssh', ['-V'], { encoding: 'utf8' });
  return `${r.stderr ?? ''}${r.stdout ?? ''}`.trim() || 'OpenSSH';
}

/** The SHA256 fingerprint of the key at `file`.pub, as `ssh-keygen -lf` prints it. */
function fingerprint(file: string): string {
  return run('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`]).split(' ')[1] ?? '';
}

/** Makes an Ed25519 key pair at `file` and `file.pub`; returns its fingerprint. */
export function makeKey(file: string): string {
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bench', '-f', file]);
  return fingerprint(file);
}

export interface BenchSshd {
  readonly port: number;
  /** The host key's fingerprint, for a flow's pin. */
  readonly hostKeySha256: string;
  /** CPU seconds so far of the listener and of the per-connection processes it has reaped. */
  cpu(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts sshd from a config in `work` (host key `work/host_ed25519`, made here if missing),
 * letting root in with `clientKey`.pub. `maxStartups`: unauthenticated connections it accepts
 * at once (its default 10:30:100 drops those beyond 10).
 */
export async function startSshd(work: string, clientKey: string, maxStartups = 100): Promise<BenchSshd> {
  await requireFile(SSHD, 'is missing: apt-get install -y openssh-server');
  const port = await freePort();
  await mkdir('/run/sshd', { recursive: true }); // sshd's privilege-separation directory
  const hostKey = path.join(work, 'host_ed25519');
  const hostKeySha256 = (await exists(hostKey)) ? fingerprint(hostKey) : makeKey(hostKey);
  const authorized = path.join(work, 'authorized_keys');
  await writeFile(authorized, await readFile(`${clientKey}.pub`), { mode: 0o600 });
  const pidFile = path.join(work, 'sshd.pid');
  const config = path.join(work, 'sshd_config');
  await writeFile(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${authorized}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin yes',
      'StrictModes no',
      'UsePAM no',
      `MaxStartups ${maxStartups}`,
      'Subsystem sftp internal-sftp',
      `PidFile ${pidFile}`,
      '',
    ].join('\n'),
  );
  run(SSHD, ['-f', config, '-E', path.join(work, 'sshd.log')]);
  for (let i = 0; i < 50 && !(await exists(pidFile)); i++) await sleep(100);
  const pid = async () => Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  return {
    port,
    hostKeySha256,
    cpu: async () => cpuWithReaped(await pid()),
    async stop() {
      const listener = await pid();
      if (listener > 0) {
        try {
          process.kill(listener, 'SIGTERM');
        } catch {}
      }
    },
  };
}

export interface SftpLogin {
  /** The private key file (its `.pub` beside it). */
  readonly key: string;
  readonly port: number;
  readonly user: string;
  /** What an error calls the server. */
  readonly label: string;
}

let batches = 0;

/**
 * One OpenSSH `sftp -b` session running `commands` (batch file in `work`), with the client's
 * defaults: no ~/.ssh/config, no agent, no known_hosts. Resolves with its stderr (with `-vvv`
 * in `extra`, the negotiation), rejects with the end of it if sftp failed.
 */
export async function sftpSession(
  work: string,
  login: SftpLogin,
  commands: readonly string[],
  extra: readonly string[] = [],
): Promise<string> {
  const batchFile = path.join(work, `batch-${++batches}`);
  await writeFile(batchFile, `${commands.join('\n')}\n`);
  const env = { ...process.env };
  delete env.SSH_AUTH_SOCK; // offer the bench key only
  const args = [
    // Not -q: that also silences ssh's own error messages. LogLevel=ERROR drops only the
    // "Permanently added" warning each session would print.
    ...(extra.length > 0 ? extra : ['-o', 'LogLevel=ERROR']),
    '-F',
    '/dev/null', // no ~/.ssh/config: the client's defaults
    '-b',
    batchFile,
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-i',
    login.key,
    '-P',
    String(login.port),
    `${login.user}@127.0.0.1`,
  ];
  const child = spawn('sftp', args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  await rm(batchFile, { force: true });
  if (code !== 0) {
    throw new Error(
      `sftp to ${login.label} failed (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
    );
  }
  return stderr;
}
