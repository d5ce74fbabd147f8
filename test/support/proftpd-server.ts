/**
 * A real ProFTPD mod_sftp server for outbound tests that OpenSSH cannot cover: password
 * sign-in from its own user file (no system account touched) and a server that does not offer
 * posix-rename@openssh.com (`SFTPExtensions -posixRename`), so the plain-RENAME path runs
 * against a real peer. Own config, host key and user file in a temporary directory; run in the
 * foreground (`-n`) so stopping the child stops it.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { OutboundSftpTarget } from '../../src/adapters/outbound-sftp/target.js';
import { freePort } from './free-port.js';
import { makeKeyPair } from './openssh-server.js';

const PROFTPD = '/usr/sbin/proftpd';
/** Debian's OpenSSL makes the SHA-512 crypt(3) hash ProFTPD's user file wants. */
const OPENSSL = '/usr/bin/openssl';
const STARTUP_MS = 15_000;
const run = promisify(execFile);

export interface ProftpdServer {
  /** Password sign-in, host key pinned, into the area (a directory on this machine). */
  readonly target: OutboundSftpTarget;
  readonly root: string;
  stop(): Promise<void>;
}

/**
 * The lines every ProFTPD mod_sftp server of the tests and benchmarks shares: standalone on
 * 127.0.0.1:`port`, root allowed, mod_sftp on, its files (pid, scoreboard, log) in `dir`.
 */
export function proftpdSftpBase(port: number, dir: string): string[] {
  return [
    'ServerType standalone',
    'DefaultAddress 127.0.0.1',
    `Port ${port}`,
    'UseIPv6 off',
    'User nobody',
    'Group nogroup',
    'RootLogin on',
    // Otherwise /etc/ftpusers refuses root.
    'UseFtpUsers off',
    'UseReverseDNS off',
    `PidFile ${path.join(dir, 'proftpd.pid')}`,
    `ScoreboardFile ${path.join(dir, 'proftpd.scoreboard')}`,
    'DelayTable none',
    'WtmpLog off',
    'TransferLog none',
    'ModulePath /usr/lib/proftpd',
    'LoadModule mod_sftp.c',
    'SFTPEngine on',
    `SFTPLog ${path.join(dir, 'proftpd-sftp.log')}`,
  ];
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function startProftpdServer(): Promise<ProftpdServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-proftpd-'));
  const root = path.join(dir, 'area');
  await mkdir(root);
  // ProFTPD reads PEM host keys; -m PEM makes ssh-keygen write one.
  const host = await makeKeyPair(path.join(dir, 'host'), ['-t', 'rsa', '-b', '2048', '-m', 'PEM']);
  const password = randomBytes(12).toString('hex');
  const { stdout: hash } = await run(OPENSSL, ['passwd', '-6', password]);
  await writeFile(path.join(dir, 'passwd'), `sender:${hash.trim()}:0:0::${root}:/bin/sh\n`, { mode: 0o600 });
  const port = await freePort();
  await writeFile(
    path.join(dir, 'proftpd.conf'),
    [
      ...proftpdSftpBase(port, dir),
      'RequireValidShell off',
      `AuthUserFile ${path.join(dir, 'passwd')}`,
      'AuthOrder mod_auth_file.c',
      `SystemLog ${path.join(dir, 'system.log')}`,
      `SFTPHostKey ${path.join(dir, 'host')}`,
      'SFTPAuthMethods password',
      'SFTPExtensions -posixRename',
      '<Directory />',
      '  AllowOverwrite on',
      '</Directory>',
      '',
    ].join('\n'),
  );
  const child = spawn(PROFTPD, ['-n', '-q', '-c', path.join(dir, 'proftpd.conf')], { stdio: 'ignore' });
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + STARTUP_MS;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`ProFTPD did not start on port ${port}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    target: {
      host: '127.0.0.1',
      port,
      username: 'sender',
      password,
      hostKeySha256: host.fingerprint,
      directory: root,
    },
    root,
    stop,
  };
}
