/** Real SFTP clients: OpenSSH `sftp` in batch mode, Python paramiko (Debian's), and curl. */
import { execFile, spawn } from 'node:child_process';

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

function collect(command: string, args: string[], input?: string): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
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

/** curl with sftp:// URLs (libssh2), password authentication. */
export function curlSftp(args: string[]): Promise<ClientResult> {
  return new Promise((resolve) => {
    execFile(
      'curl',
      ['-sS', '--insecure', ...args],
      { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 },
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
