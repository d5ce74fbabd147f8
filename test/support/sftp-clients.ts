/**
 * Real SFTP clients: OpenSSH `sftp` in batch mode, Python paramiko and asyncssh (Debian's),
 * curl, rclone (Go pkg/sftp) and lftp. Every run is bounded by a timeout.
 */
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const SSH_OPTIONS = [
  '-o',
  'StrictHostKeyChecking=no',
  '-o',
  'UserKnownHostsFile=/dev/null',
  '-o',
  'LogLevel=ERROR',
];

export interface ClientResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The longest any client run may take before it is killed (its result then says so). */
export const CLIENT_TIMEOUT_MS = 120_000;

export function collect(
  command: string,
  args: string[],
  input?: string,
  env?: NodeJS.ProcessEnv,
): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: CLIENT_TIMEOUT_MS,
      killSignal: 'SIGKILL',
      ...(env === undefined ? {} : { env }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const killed = signal === 'SIGKILL' ? `\n[killed after ${CLIENT_TIMEOUT_MS} ms]` : '';
      resolve({ code, stdout, stderr: stderr + killed });
    });
    child.stdin.end(input ?? '');
  });
}

export type Credential = { password: string } | { identityFile: string };

/**
 * `sftp -b -` with the batch on standard input. A password goes through sshpass, which needs
 * `-o BatchMode=no` before `-b` (batch mode otherwise turns password authentication off).
 */
export function openSshBatch(
  port: number,
  user: string,
  credential: Credential,
  batch: string[],
): Promise<ClientResult> {
  const common = [...SSH_OPTIONS, '-P', String(port)];
  if ('password' in credential) {
    return collect(
      'sshpass',
      [
        '-p',
        credential.password,
        'sftp',
        '-o',
        'BatchMode=no',
        '-o',
        'PubkeyAuthentication=no',
        ...common,
        '-b',
        '-',
        `${user}@127.0.0.1`,
      ],
      `${batch.join('\n')}\n`,
    );
  }
  return collect(
    'sftp',
    [
      '-o',
      'PasswordAuthentication=no',
      '-o',
      'IdentitiesOnly=yes',
      '-i',
      credential.identityFile,
      ...common,
      '-b',
      '-',
      `${user}@127.0.0.1`,
    ],
    `${batch.join('\n')}\n`,
  );
}

/** Runs a paramiko script (Debian's python3-paramiko) with host, port, user and password as argv. */
export function paramiko(
  script: string,
  port: number,
  user: string,
  password: string,
  ...args: string[]
): Promise<ClientResult> {
  return collect('/usr/bin/python3', ['-c', script, '127.0.0.1', String(port), user, password, ...args]);
}

/** paramiko bound to source address `from`: one connection per password, printing `accepted` or `refused` for each. */
export function paramikoGuesses(port: number, user: string, from: string, passwords: readonly string[]) {
  const script = `
import socket, sys, paramiko
host, port, user, source, passwords = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[5], sys.argv[6:]
for password in passwords:
    sock = socket.create_connection((host, port), source_address=(source, 0))
    t = paramiko.Transport(sock)
    t.connect()
    try:
        t.auth_password(user, password)
        print('accepted' if t.is_authenticated() else 'refused', flush=True)
    except paramiko.AuthenticationException:
        print('refused', flush=True)
    t.close()
`;
  return paramiko(script, port, user, 'unused', from, ...passwords);
}

/**
 * `n` paramiko clients (threads) that sign in at once, spread over `ports` (instances), open
 * SFTP and list `/`, and hold their connections until every one has its answer; resolves with
 * how many got through and how many were refused.
 */
export async function paramikoAtOnce(ports: readonly number[], user: string, password: string, n: number) {
  const script = `
import sys, threading, paramiko
host, user, password, n, ports = sys.argv[1], sys.argv[3], sys.argv[4], int(sys.argv[5]), [int(p) for p in sys.argv[6:]]
start = threading.Barrier(n)
finish = threading.Barrier(n)
results = [None] * n
def attempt(i):
    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    start.wait()
    try:
        c.connect(host, port=ports[i % len(ports)], username=user, password=password, allow_agent=False,
                  look_for_keys=False, timeout=60, banner_timeout=60, auth_timeout=60)
        sftp = c.open_sftp()
        sftp.listdir("/")
        results[i] = "ok"
    except Exception as e:
        results[i] = "refused"
    finish.wait()
    c.close()
threads = [threading.Thread(target=attempt, args=(i,)) for i in range(n)]
for t in threads: t.start()
for t in threads: t.join()
print("ok", results.count("ok"))
print("refused", results.count("refused"))
`;
  const result = await paramiko(script, ports[0] ?? 0, user, password, String(n), ...ports.map(String));
  if (result.code !== 0) throw new Error(`paramiko failed: ${result.stderr}`);
  const count = (word: string) => Number(new RegExp(`^${word} (\\d+)$`, 'm').exec(result.stdout)?.[1]);
  return { ok: count('ok'), refused: count('refused') };
}

/**
 * paramiko signed in with a password, listing `.` every 0.1 s: prints `connected`, then `cut`
 * once the server drops the connection, or `still connected` after `seconds`.
 */
/**
 * A paramiko client that lists `.` every 0.1 s for `seconds`, printing `connected` once it has
 * listed once and `cut` when the server ends the connection. `connected()` resolves once it has
 * listed (a file it writes then says so), so a test cuts a connection that is really in use.
 */
export function paramikoUntilCut(port: number, user: string, password: string, seconds: number) {
  const marker = path.join(os.tmpdir(), `sluice-paramiko-${process.pid}-${randomUUID()}`);
  const script = `
import sys, time, paramiko
t = paramiko.Transport((sys.argv[1], int(sys.argv[2])))
t.connect(username=sys.argv[3], password=sys.argv[4])
s = paramiko.SFTPClient.from_transport(t)
s.listdir('.')
print('connected', flush=True)
open(sys.argv[6], 'w').close()
for i in range(int(float(sys.argv[5]) * 10)):
    time.sleep(0.1)
    try:
        s.listdir('.')
    except Exception:
        print('cut', flush=True)
        sys.exit(0)
print('still connected')
`;
  const result = paramiko(script, port, user, password, String(seconds), marker).finally(() =>
    rm(marker, { force: true }),
  );
  let finished = false;
  void result.finally(() => {
    finished = true;
  });
  return {
    result,
    async connected(): Promise<void> {
      while (!existsSync(marker)) {
        if (finished) throw new Error(`paramiko ended before it listed: ${(await result).stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** Runs an asyncssh script (Debian's python3-asyncssh): the same Python runner as paramiko's. */
export const asyncssh = paramiko;

/**
 * rclone with one sftp remote named `sluice:` configured through environment variables
 * (password obscured with `rclone obscure`), no configuration file, no retries.
 */
export async function rclone(
  port: number,
  user: string,
  password: string,
  args: string[],
): Promise<ClientResult> {
  const obscured = await collect('rclone', ['obscure', password]);
  if (obscured.code !== 0) throw new Error(`rclone obscure failed: ${obscured.stderr}`);
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    RCLONE_CONFIG: '/dev/null',
    RCLONE_CONFIG_SLUICE_TYPE: 'sftp',
    RCLONE_CONFIG_SLUICE_HOST: '127.0.0.1',
    RCLONE_CONFIG_SLUICE_PORT: String(port),
    RCLONE_CONFIG_SLUICE_USER: user,
    RCLONE_CONFIG_SLUICE_PASS: obscured.stdout.trim(),
  };
  return collect(
    'rclone',
    ['--retries', '1', '--low-level-retries', '1', '--contimeout', '10s', ...args],
    '',
    env,
  );
}

/**
 * lftp's own SFTP client (over OpenSSH's `ssh`) with password authentication: `commands` run
 * after `open`, and the first failing one ends lftp with a non-zero status.
 */
export function lftp(
  port: number,
  user: string,
  password: string,
  commands: string[],
): Promise<ClientResult> {
  const ssh = `ssh -a -x ${SSH_OPTIONS.join(' ')} -o PubkeyAuthentication=no`;
  const script = [
    'set cmd:fail-exit yes',
    'set net:max-retries 1',
    'set net:timeout 20',
    'set sftp:auto-confirm yes',
    `set sftp:connect-program "${ssh}"`,
    `open -u ${user},${password} -p ${port} sftp://127.0.0.1`,
    ...commands,
  ].join('\n');
  return collect('lftp', ['-c', script]);
}

/** curl with sftp:// URLs (libssh2), password authentication. */
export function curlSftp(args: string[]): Promise<ClientResult> {
  return new Promise((resolve) => {
    execFile(
      'curl',
      ['-sS', '--insecure', ...args],
      { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024, timeout: CLIENT_TIMEOUT_MS, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        resolve({
          code: error ? ((error as { code?: number }).code ?? 1) : 0,
          stdout: stdout.toString('latin1'),
          stderr: stderr.toString(),
        });
      },
    );
  });
}
