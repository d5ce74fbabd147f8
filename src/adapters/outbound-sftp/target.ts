/**
 * What an outbound SFTP transfer needs to know, and the checks made before any connection: a
 * target that can never work (no credential, a host key pin that is not a SHA-256 fingerprint, a
 * remote name that would leave the directory) fails at once as `invalid-target`, not retryable.
 * `targetProblems` is exported so configuration can be refused when it is entered.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import ssh2 from 'ssh2';
import { OutboundTransferError } from './transfer-error.js';

export interface OutboundSftpTarget {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password?: string;
  /** OpenSSH or PEM private key text. */
  readonly privateKey?: string;
  /** Pinned host key, as `ssh-keygen -lf` prints it: "SHA256:<base64 without padding>". Required. */
  readonly hostKeySha256: string;
  /** Remote directory the file goes into (must exist). */
  readonly directory: string;
}

export interface SourceFile {
  readonly path: string;
  readonly size: number;
  /** Lower-case hex SHA-256 of the whole file. */
  readonly sha256: string;
}

/** 32 bytes in base64 without padding is 43 characters. */
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;
const HEX_SHA256 = /^[0-9a-f]{64}$/;

/** The host key's fingerprint in `ssh-keygen -l` form, from the raw key blob ssh2 hands over. */
export function fingerprintOf(hostKey: Buffer): string {
  return `SHA256:${createHash('sha256').update(hostKey).digest('base64').replace(/=+$/, '')}`;
}

/** Every reason the target cannot work, empty when it may. */
export function targetProblems(target: OutboundSftpTarget): string[] {
  const problems: string[] = [];
  if (target.host.trim() === '') problems.push('host is empty');
  if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65_535) {
    problems.push(`port ${target.port} is not a TCP port`);
  }
  if (target.username === '') problems.push('username is empty');
  if (!target.password && !target.privateKey) problems.push('neither a password nor a private key is given');
  if (!FINGERPRINT.test(target.hostKeySha256)) {
    problems.push('hostKeySha256 is not a fingerprint like ssh-keygen -lf prints (SHA256:<43 base64 chars>)');
  }
  if (target.directory === '' || target.directory.includes('\0'))
    problems.push('directory is empty or invalid');
  return problems;
}

/**
 * `targetProblems`, and a private key that ssh2 cannot read (or that needs a passphrase): what
 * a flow's definition is checked with before it is recorded.
 */
export function definitionProblems(target: OutboundSftpTarget): string[] {
  const problems = targetProblems(target);
  if (target.privateKey !== undefined) {
    const parsed = ssh2.utils.parseKey(target.privateKey);
    if (parsed instanceof Error) problems.push(`the private key cannot be read: ${parsed.message}`);
  }
  return problems;
}

function nameProblems(remoteName: string): string[] {
  if (remoteName === '' || remoteName === '.' || remoteName === '..')
    return ['remote name is empty or a dot name'];
  if (remoteName.includes('/') || remoteName.includes('\0')) return ['remote name must be one path segment'];
  return [];
}

function sourceProblems(source: SourceFile): string[] {
  const problems: string[] = [];
  if (!Number.isSafeInteger(source.size) || source.size < 0) problems.push('source size is not a byte count');
  if (!HEX_SHA256.test(source.sha256)) problems.push('source sha256 is not 64 lower-case hex digits');
  return problems;
}

/** Throws `invalid-target` listing every problem; else returns the final and temporary remote paths. */
export function checkTransfer(
  target: OutboundSftpTarget,
  source: SourceFile,
  remoteName: string,
): { finalPath: string; partPath: string } {
  const problems = [...targetProblems(target), ...nameProblems(remoteName), ...sourceProblems(source)];
  if (problems.length > 0) throw new OutboundTransferError('invalid-target', problems.join('; '));
  return {
    finalPath: posix.join(target.directory, remoteName),
    partPath: posix.join(target.directory, `.${remoteName}.sluice-part`),
  };
}
