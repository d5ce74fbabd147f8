/**
 * The SSH front end (ssh2) for SFTP. Each connection signs in through OpenImmutable with the
 * SFTP application id (password or public key), so a user's connections within 48 hours
 * share one immutable session; each connection is recorded as ConnectionOpened/Closed; the
 * `sftp` subsystem is served by Sluice's own SFTP v3 layer over the file-operations core.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import ssh2, { type AuthContext, type Connection } from 'ssh2';
import type { RequestContext } from '../../application/ports.js';
import { type RefusalCounter, uncounted } from '../../application/refusals.js';
import { SignInRefused } from '../../application/sign-in.js';
import { BuiltInApplication } from '../../domain/applications/built-in.js';
import { escapeText } from '../../domain/text.js';
import {
  type AdmissionRequest,
  admitSignedIn,
  fileActorOf,
  type ProtocolServerDeps,
  type SignedIn,
} from '../connections/signed-in-connection.js';
import { fingerprintOf } from '../ssh/public-keys.js';
import type { HostKey } from './host-keys.js';
import { PreAuthGate, type PreAuthLimits } from './pre-auth-gate.js';
import { SftpProtocolSession } from './protocol/server.js';
import { acceptsUserAuthSignature, hardenSignatureAlgorithms } from './signature-algorithms.js';

export interface SftpServerOptions {
  readonly host: string;
  readonly port: number;
  readonly hostKeys: readonly HostKey[];
  readonly maxConnectionsPerUser: number;
  readonly maxHandlesPerConnection: number;
  /** Failed authentication attempts before the connection is cut. */
  readonly maxAuthAttempts?: number;
  /** Connections before sign-in: the time they have to sign in, and how many may wait. */
  readonly preAuth?: PreAuthLimits;
}

export type SftpServerDeps = ProtocolServerDeps;

const DEFAULT_PRE_AUTH: PreAuthLimits = { authTimeoutMs: 30_000, maxTotal: 200, maxPerAddress: 20 };

/**
 * Modern algorithms only: no CBC ciphers, no SHA-1 or MD5 MACs or key exchanges, no `ssh-rsa`
 * (SHA-1) or `ssh-dss` host-key signatures. User-auth signatures: signature-algorithms.ts.
 */
export const SSH_ALGORITHMS = {
  kex: [
    'curve25519-sha256',
    'curve25519-sha256@libssh.org',
    'ecdh-sha2-nistp256',
    'ecdh-sha2-nistp384',
    'ecdh-sha2-nistp521',
    'diffie-hellman-group-exchange-sha256',
    'diffie-hellman-group16-sha512',
    'diffie-hellman-group14-sha256',
  ],
  cipher: [
    'chacha20-poly1305@openssh.com',
    'aes128-gcm@openssh.com',
    'aes256-gcm@openssh.com',
    'aes128-ctr',
    'aes192-ctr',
    'aes256-ctr',
  ],
  hmac: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com', 'hmac-sha2-256', 'hmac-sha2-512'],
  serverHostKey: ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256'],
  compress: ['none'],
};

/** Whether ssh2's native crypto addon was built (else ChaCha20-Poly1305 runs ~3× slower in WebAssembly). */
export function nativeCryptoLoaded(): boolean {
  const require = createRequire(import.meta.url);
  const root = path.dirname(require.resolve('ssh2/package.json'));
  return existsSync(path.join(root, 'lib/protocol/crypto/build/Release/sshcrypto.node'));
}

type Authenticated = SignedIn;

export class SftpServer {
  private server: net.Server | undefined;
  private readonly gate: PreAuthGate;
  private readonly refused: RefusalCounter;

  constructor(
    private readonly options: SftpServerOptions,
    private readonly deps: SftpServerDeps,
  ) {
    this.refused = deps.refused ?? uncounted;
    this.gate = new PreAuthGate(options.preAuth ?? DEFAULT_PRE_AUTH, this.refused, (address, outcome) =>
      deps.connections.endedUnauthenticated('sftp', address, outcome),
    );
  }

  async listen(): Promise<{ host: string; port: number }> {
    const ssh = new ssh2.Server(
      {
        hostKeys: this.options.hostKeys.map((k) => k.privateKey),
        ident: 'Sluice',
        algorithms: SSH_ALGORITHMS as ssh2.Algorithms,
      },
      (client, info) => this.onConnection(client, info),
    );
    ssh.on('error', (error: Error) => this.deps.logger.error({ err: error }, 'SSH server error'));
    // TCP is accepted here, so the gate bounds a connection from its first byte, before ssh2
    // has even read its identification line.
    const server = net.createServer((socket) => {
      if (this.gate.admit(socket)) ssh.injectSocket(socket);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error: Error) => this.deps.logger.error({ err: error }, 'SSH server error'));
    const address = server.address();
    return {
      host: this.options.host,
      port: typeof address === 'object' && address ? address.port : this.options.port,
    };
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.gate.closeAll();
    this.deps.registry.disconnectAll('server stopping');
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private onConnection(client: Connection, info: ssh2.ClientInfo): void {
    const { logger, ids } = this.deps;
    const connectionId = ids.uuid();
    // The ident is the client's to choose (any byte, read as latin1): recorded escaped, so a
    // control character in it can never make a sign-in or connection go unrecorded.
    const ident = info.header?.identRaw ?? 'unknown';
    const clientSoftware = escapeText(ident, 255);
    const clientVersion = escapeText(ident, 100);
    const context: RequestContext = { correlationId: connectionId, clientIp: info.ip, clientPort: info.port };
    const log = logger.child({ connectionId, remote: `${info.ip}:${info.port}` });
    hardenSignatureAlgorithms(client);
    let authenticated: Authenticated | undefined;
    let failures = 0;
    const maxFailures = this.options.maxAuthAttempts ?? 6;

    client.on('error', (error: Error) => log.debug({ err: error }, 'SSH connection error'));
    client.on('authentication', (ctx) => {
      void this.authenticate(ctx, context, clientVersion)
        .then((result) => {
          if (result === 'continue') return;
          if (result) {
            authenticated = result;
            ctx.accept();
            return;
          }
          failures++;
          if (failures >= maxFailures) {
            log.info('too many failed sign-in attempts: disconnecting');
            client.end();
            return;
          }
          ctx.reject(['publickey', 'password']);
        })
        .catch((error: unknown) => {
          // Counted like a refusal: an attempt that could not be checked is no free guess.
          log.error({ err: error }, 'authentication failed unexpectedly');
          failures++;
          if (failures >= maxFailures) {
            client.end();
            return;
          }
          ctx.reject(['publickey', 'password']);
        });
    });
    client.on('ready', () => {
      if (!authenticated) {
        client.end();
        return;
      }
      this.gate.authenticated(info.ip, info.port);
      // Attached at once: a client opens its session channel right after authenticating.
      const ready = this.onReady(client, connectionId, authenticated, context, clientSoftware, log).catch(
        (error: unknown) => {
          log.error({ err: error }, 'could not start the connection');
          client.end();
          return undefined;
        },
      );
      client.on('session', (accept) => {
        const session = accept();
        session.on('subsystem', (acceptSubsystem, reject, info) => {
          if (info.name !== 'sftp') {
            reject();
            return;
          }
          const channel = acceptSubsystem();
          // Hold the client's first packets until the connection is recorded.
          channel.pause();
          void ready.then((serve) => {
            if (serve) serve(channel);
            else channel.destroy();
          });
        });
      });
    });
  }

  /**
   * One authentication request: an Authenticated result, null for a refusal, 'continue' for a
   * key query. Recording and deciding are the sign-in use case's; this only maps the request.
   */
  private async authenticate(
    ctx: AuthContext,
    context: RequestContext,
    clientVersion: string,
  ): Promise<Authenticated | null | 'continue'> {
    const { signIn, registry } = this.deps;
    const since = registry.position;
    const applicationId = BuiltInApplication.sftp;
    // The name as it may be recorded (escaped, bounded); a name that needed escaping names no user.
    const userName = escapeText(ctx.username, 254);
    try {
      if (ctx.method === 'password') {
        const { sessionId, user } = await signIn.openSsh(
          {
            userName,
            applicationId,
            clientVersion,
            credential: { method: 'password', password: ctx.password },
          },
          context,
        );
        return { since, sessionId, user, method: 'password', fingerprint: null };
      }
      if (ctx.method === 'publickey') {
        const fingerprint = fingerprintOf(ctx.key.data);
        // No SHA-1 (`ssh-rsa`) or DSA signatures, whatever the key.
        const algorithmAccepted = acceptsUserAuthSignature(ctx.key.algo, ctx.hashAlgo);
        if (!ctx.signature || !ctx.blob) {
          // The client asks whether this key would do; it has not proven it holds it yet.
          if (algorithmAccepted && (await signIn.holdsKey(userName, fingerprint))) {
            ctx.accept();
            return 'continue';
          }
          return null;
        }
        const { signature, blob, hashAlgo } = ctx;
        const verify = (storedPublicKey: string) => {
          const parsed = ssh2.utils.parseKey(storedPublicKey);
          const key = parsed instanceof Error ? undefined : Array.isArray(parsed) ? parsed[0] : parsed;
          return algorithmAccepted && key?.verify(blob, signature, hashAlgo) === true;
        };
        const { sessionId, user } = await signIn.openSsh(
          {
            userName,
            applicationId,
            clientVersion,
            credential: { method: 'public-key', fingerprint, verify },
          },
          context,
        );
        return { since, sessionId, user, method: 'public-key', fingerprint };
      }
      return null;
    } catch (error) {
      if (error instanceof SignInRefused) return null;
      throw error;
    }
  }

  /** Records the connection; resolves with what serves an `sftp` channel, or undefined when refused. */
  private async onReady(
    client: Connection,
    connectionId: string,
    auth: Authenticated,
    context: RequestContext,
    clientSoftware: string,
    log: Logger,
  ): Promise<((channel: import('node:stream').Duplex) => void) | undefined> {
    const { registry, leases, connections, files } = this.deps;
    const request: AdmissionRequest = {
      connectionId,
      protocol: 'sftp',
      applicationId: BuiltInApplication.sftp,
      auth,
      context,
      clientSoftware,
      maxConnectionsPerUser: this.options.maxConnectionsPerUser,
      limitReason: 'sftp-connections-per-user',
      end: () => client.end(),
      onClose: (listener) => client.once('close', listener),
    };
    const admitted = await admitSignedIn(
      { registry, leases, connections, refused: this.refused, log },
      request,
    );
    if (!admitted) return undefined;
    const { connection } = admitted;
    const sftpSessions: SftpProtocolSession[] = [];
    const serve = (channel: import('node:stream').Duplex) => {
      const fileSession = files.session(fileActorOf(request));
      sftpSessions.push(
        new SftpProtocolSession(channel, fileSession, {
          maxOpenHandles: this.options.maxHandlesPerConnection,
          logger: log,
        }),
      );
      channel.resume();
    };
    client.on('close', () => {
      void (async () => {
        registry.remove(connectionId);
        // The channel may never report its end if the client left with requests unread.
        for (const session of sftpSessions) session.end('connection closed');
        await Promise.all(sftpSessions.map((s) => s.closed));
        const bytesIn = sftpSessions.reduce((n, s) => n + s.bytesIn, 0);
        const bytesOut = sftpSessions.reduce((n, s) => n + s.bytesOut, 0);
        await connection.closed({ reason: admitted.closeReason(), bytesIn, bytesOut });
      })().catch((error: unknown) => log.error({ err: error }, 'could not record ConnectionClosed'));
    });
    return serve;
  }
}
