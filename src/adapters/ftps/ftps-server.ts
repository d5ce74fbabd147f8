/**
 * The FTPS front end: an explicit listener (AUTH TLS, the port 21 style) and an implicit one
 * (TLS from the first byte, the port 990 style), Sluice's own FTP layer on node:net and
 * node:tls (docs/ftps.md says why not ftp-srv). Everything that decides goes through the
 * services SFTP uses: sign-in by OpenImmutable semantics on application 4 (the user's alive
 * FTPS session is handed out again; the defender applies), the pre-auth gate, the admission of
 * a signed-in connection (lease, registry, ConnectionOpened/Closed/Refused) and one core
 * FileSession per connection with protocol `ftps`.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { RequestContext } from '../../application/ports.js';
import { type RefusalCounter, uncounted } from '../../application/refusals.js';
import { SignInRefused, type SignInService } from '../../application/sign-in.js';
import { BuiltInApplication } from '../../domain/applications/built-in.js';
import {
  type AdmissionRequest,
  admitSignedIn,
  fileActorOf,
  type ProtocolServerDeps,
} from '../connections/signed-in-connection.js';
import { PreAuthGate, type PreAuthLimits } from '../sftp/pre-auth-gate.js';
import type { FtpsCertificate } from './certificate.js';
import { ControlConnection } from './control-connection.js';
import { FileCommands } from './file-commands.js';
import { plainAddress } from './passive.js';

export interface FtpsServerOptions {
  readonly host: string;
  /** Explicit FTPS; null: not served. */
  readonly port: number | null;
  /** Implicit FTPS; null: not served. */
  readonly implicitPort: number | null;
  readonly passivePorts: { readonly from: number; readonly to: number } | null;
  readonly passiveAddress: string | null;
  readonly certificate: FtpsCertificate;
  readonly maxConnectionsPerUser: number;
  readonly preAuth: PreAuthLimits;
}

export interface FtpsServerDeps extends ProtocolServerDeps {
  /** Told of each data connection: whether it resumed the control connection's TLS session. */
  readonly onDataConnection?: (resumed: boolean) => void;
}

/** How long a passive listener waits for its data connection (and its TLS). */
const DATA_CONNECTION_TIMEOUT_MS = 30_000;

export class FtpsServer {
  private readonly servers: net.Server[] = [];
  private readonly controls = new Set<ControlConnection>();
  private readonly gate: PreAuthGate;
  private readonly refused: RefusalCounter;
  private readonly secureContext: tls.SecureContext;

  constructor(
    private readonly options: FtpsServerOptions,
    private readonly deps: FtpsServerDeps,
  ) {
    this.refused = deps.refused ?? uncounted;
    this.gate = new PreAuthGate(
      options.preAuth,
      this.refused,
      (address, outcome) => deps.connections.endedUnauthenticated('ftps', address, outcome),
      {
        timeout: 'ftps-auth-timeout',
        total: 'ftps-unauthenticated-total',
        perAddress: 'ftps-unauthenticated-per-address',
      },
    );
    // One context for every control and data connection: a data connection can resume the
    // control connection's session (its tickets are this context's).
    this.secureContext = tls.createSecureContext({
      cert: options.certificate.cert,
      key: options.certificate.key,
      minVersion: 'TLSv1.2',
    });
  }

  /** Listens on the configured ports; resolves with the ports (null: not served). */
  async listen(): Promise<{ port: number | null; implicitPort: number | null }> {
    const port = this.options.port === null ? null : await this.listenOn(this.options.port, false);
    const implicitPort =
      this.options.implicitPort === null ? null : await this.listenOn(this.options.implicitPort, true);
    return { port, implicitPort };
  }

  async close(): Promise<void> {
    this.gate.closeAll();
    for (const control of this.controls) control.end();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  private async listenOn(port: number, implicit: boolean): Promise<number> {
    const server = net.createServer((socket) => {
      // Replies are small and each waits for the last: no Nagle delay before they go.
      socket.setNoDelay(true);
      if (this.gate.admit(socket)) this.onConnection(socket, implicit);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error: Error) => this.deps.logger.error({ err: error }, 'FTPS server error'));
    this.servers.push(server);
    const address = server.address();
    return typeof address === 'object' && address ? address.port : port;
  }

  private onConnection(socket: net.Socket, implicit: boolean): void {
    const connectionId = this.deps.ids.uuid();
    const clientIp = plainAddress(socket.remoteAddress ?? 'unknown');
    const context: RequestContext = {
      correlationId: connectionId,
      clientIp,
      ...(socket.remotePort === undefined ? {} : { clientPort: socket.remotePort }),
    };
    const log = this.deps.logger.child({ connectionId, remote: `${clientIp}:${socket.remotePort}` });
    let onClosed: (() => Promise<void>) | undefined;
    const control: ControlConnection = new ControlConnection(socket, implicit, {
      secureContext: this.secureContext,
      logger: log,
      signIn: async (userName, password, clientVersion) => {
        const since = this.deps.registry.position;
        let signedIn: Awaited<ReturnType<SignInService['openSsh']>>;
        try {
          signedIn = await this.deps.signIn.openSsh(
            {
              userName,
              applicationId: BuiltInApplication.ftps,
              clientVersion,
              credential: { method: 'password', password },
            },
            context,
          );
        } catch (error) {
          if (error instanceof SignInRefused) return 'refused';
          throw error;
        }
        this.gate.authenticated(socket.remoteAddress ?? 'unknown', socket.remotePort);
        const request: AdmissionRequest = {
          connectionId,
          protocol: 'ftps',
          applicationId: BuiltInApplication.ftps,
          auth: { since, ...signedIn, method: 'password', fingerprint: null },
          context,
          clientSoftware: clientVersion,
          maxConnectionsPerUser: this.options.maxConnectionsPerUser,
          limitReason: 'ftps-connections-per-user',
          end: () => control.end(),
          onClose: (listener) => socket.once('close', listener),
        };
        const { registry, leases, connections } = this.deps;
        const admitted = await admitSignedIn(
          { registry, leases, connections, refused: this.refused, log },
          request,
        );
        if (!admitted) return 'closed';
        const commands = new FileCommands(this.deps.files.session(fileActorOf(request)), control, {
          passive: {
            host: this.options.host,
            ports: this.options.passivePorts,
            timeoutMs: DATA_CONNECTION_TIMEOUT_MS,
          },
          passiveAddress: this.options.passiveAddress,
          logger: log,
          ...(this.deps.onDataConnection ? { onDataConnection: this.deps.onDataConnection } : {}),
        });
        onClosed = () =>
          admitted.connection.closed({
            reason: admitted.closeReason(),
            bytesIn: commands.bytesIn,
            bytesOut: commands.bytesOut,
          });
        return commands;
      },
    });
    this.controls.add(control);
    socket.once('close', () => {
      this.controls.delete(control);
      control.end();
      // After the transfer that was running has recorded how it ended.
      void control
        .settled()
        .then(() => onClosed?.())
        .catch((error: unknown) => log.error({ err: error }, 'could not record ConnectionClosed'));
    });
  }
}
