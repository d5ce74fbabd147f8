/**
 * A real OpenSSH server (`/usr/sbin/sshd` with `internal-sftp`) for tests that send files out:
 * its own config, host key and client key in a temporary directory, listening on a free
 * 127.0.0.1 port, run in the foreground (`-D -e`) so stopping the child stops it. Tests run as
 * root, so it lets root in with the generated key only; `root` is the area files go into.
 * The pinned fingerprint comes from `ssh-keygen -lf`, as an operator would copy it, not from
 * the code under test.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { OutboundSftpTarget } from '../../src/adapters/outbound-sftp/target.js';
import { freePort } from './free-port.js';

const SSHD = '/usr/sbin/sshd';
const SSH_KEYGEN = '/usr/bin/ssh-keygen';
const STARTUP_MS = 15_000;

export interface OpenSshServer {
  readonly port: number;
  /** "SHA256:<base64 without padding>" of the server's host key, as `ssh-keygen -lf` prints it. */
  readonly hostKeySha256: string;
  readonly username: string;
  /** The client's private key (OpenSSH format), authorised for `username`. */
  readonly privateKey: string;
  /** A directory on this machine, reachable by the same absolute path over SFTP. */
  readonly root: string;
  /** sshd's log (stderr) so far. */
  log(): string;
  stop(): Promise<void>;
}

const run = promisify(execFile);

/** Makes a key pair (Ed25519 unless `kind` says otherwise) with ssh-keygen at `file` and `file.pub`. */
export async function makeKeyPair(
  file: string,
  kind: readonly string[] = ['-t', 'ed25519'],
): Promise<{ privateKey: string; fingerprint: string }> {
  await run(SSH_KEYGEN, ['-q', ...kind, '-N', '', '-C', 'sluice-test', '-f', file]);
  const { stdout } = await run(SSH_KEYGEN, ['-l', '-E', 'sha256', '-f', `${file}.pub`]);
  const fingerprint = stdout.split(' ')[1] ?? '';
  if (!fingerprint.startsWith('SHA256:')) throw new Error(`unexpected ssh-keygen -l output: ${stdout}`);
  return { privateKey: await readFile(file, 'utf8'), fingerprint };
}

function waitForListening(child: ChildProcess, output: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`sshd did not start:\n${output()}`)), STARTUP_MS);
    const onData = () => {
      if (/Server listening on/.test(output())) finish();
    };
    const onExit = (code: number | null) => finish(new Error(`sshd exited (${code}):\n${output()}`));
    function finish(error?: Error) {
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve();
    }
    child.stderr?.on('data', onData);
    child.on('exit', onExit);
  });
}

export async function startOpenSshServer(): Promise<OpenSshServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-sshd-'));
  const root = path.join(dir, 'area');
  await mkdir(root);
  await mkdir('/run/sshd', { recursive: true }); // sshd's privilege-separation directory
  const host = await makeKeyPair(path.join(dir, 'host_ed25519'));
  const client = await makeKeyPair(path.join(dir, 'client_ed25519'));
  const port = await freePort();
  const config = path.join(dir, 'sshd_config');
  await writeFile(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${path.join(dir, 'host_ed25519')}`,
      `AuthorizedKeysFile ${path.join(dir, 'client_ed25519.pub')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'StrictModes no',
      'UsePAM no',
      'Subsystem sftp internal-sftp',
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      '',
    ].join('\n'),
  );
  const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  const exited = once(child, 'exit');
  try {
    await waitForListening(child, () => log);
  } catch (error) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    hostKeySha256: host.fingerprint,
    username: os.userInfo().username,
    privateKey: client.privateKey,
    root,
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A target for the outbound SFTP transfer: this server, its pinned key, the client key, `directory`. */
export function outboundTarget(server: OpenSshServer, directory = server.root): OutboundSftpTarget {
  return {
    host: '127.0.0.1',
    port: server.port,
    username: server.username,
    privateKey: server.privateKey,
    hostKeySha256: server.hostKeySha256,
    directory,
  };
}
