/**
 * Opens an SSH connection and its SFTP channel to a target whose host key is pinned: ssh2's
 * hostVerifier compares the key's SHA-256 fingerprint with the pin before authentication, so a
 * server with another key never sees the credentials and nothing is written. ssh2's errors are
 * turned into the transfer's codes here, in one place.
 */
import ssh2 from 'ssh2';
import { fingerprintOf, type OutboundSftpTarget } from './target.js';
import { OutboundTransferError } from './transfer-error.js';

const { Client } = ssh2;

export interface SftpSession {
  readonly sftp: ssh2.SFTPWrapper;
  /** Closes the connection at once; safe to call more than once. */
  close(): void;
}

/** An ssh2 connection error as a transfer error (`level` is ssh2's own classification). */
function connectionError(error: Error & ssh2.ClientErrorExtensions, hostKeyRefused: boolean) {
  if (hostKeyRefused) {
    return new OutboundTransferError(
      'host-key-mismatch',
      'the server host key does not match the pinned one',
      {
        cause: error,
      },
    );
  }
  switch (error.level) {
    case 'client-authentication':
      return new OutboundTransferError('auth-failed', `authentication refused: ${error.message}`, {
        cause: error,
      });
    case 'client-timeout':
      return new OutboundTransferError('timeout', `no SSH handshake in time: ${error.message}`, {
        cause: error,
      });
    case 'client-socket':
    case 'client-dns':
      return new OutboundTransferError('unreachable', error.message, { cause: error });
    default:
      return new OutboundTransferError('remote-error', `SSH connection failed: ${error.message}`, {
        cause: error,
      });
  }
}

/** Resolves once SFTP is open; rejects with an OutboundTransferError, or `signal.reason` on abort. */
export function openSftp(target: OutboundSftpTarget, signal: AbortSignal, readyTimeoutMs: number) {
  return new Promise<SftpSession>((resolve, reject) => {
    const client = new Client();
    const close = () => client.destroy();
    let hostKeyRefused = false;
    let settled = false;
    const settle = (error?: unknown, session?: SftpSession) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (session) return resolve(session);
      close();
      reject(error);
    };
    const onAbort = () => settle(signal.reason);
    // Kept for the connection's life: a late error must not be an unhandled 'error' event.
    client.on('error', (error) => settle(connectionError(error, hostKeyRefused)));
    client.on('close', () =>
      settle(new OutboundTransferError('unreachable', 'connection closed during setup')),
    );
    client.on('ready', () =>
      client.sftp((error, sftp) => {
        if (error)
          settle(new OutboundTransferError('remote-error', `no SFTP: ${error.message}`, { cause: error }));
        else settle(undefined, { sftp, close });
      }),
    );
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      client.connect({
        host: target.host,
        port: target.port,
        username: target.username,
        ...(target.password === undefined ? {} : { password: target.password }),
        ...(target.privateKey === undefined ? {} : { privateKey: target.privateKey }),
        readyTimeout: readyTimeoutMs,
        // A peer that vanishes without a reset is noticed within about 45 s, not at the deadline.
        keepaliveInterval: 15_000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          hostKeyRefused = fingerprintOf(key) !== target.hostKeySha256;
          return !hostKeyRefused;
        },
      });
    } catch (error) {
      // ssh2 throws at once on a private key it cannot parse.
      const message = error instanceof Error ? error.message : String(error);
      settle(new OutboundTransferError('invalid-target', message, { cause: error }));
    }
  });
}
