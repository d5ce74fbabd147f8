/**
 * Passive data connections (PASV/EPSV). Each opens a listener on a port of the configured
 * range (or any free port) that takes exactly one connection, from the control connection's
 * own address only (no other host can steal or inject a transfer), and secures it with TLS
 * in the control connection's context, so the client can resume the control connection's
 * TLS session (FileZilla and others insist). Whether it did is reported with the socket. The
 * connection is held, paused, until the transfer command: an upload's TLS then runs over a
 * TlsEndWatch, so a cut-short upload is told from a whole one.
 */
import net from 'node:net';
import tls from 'node:tls';
import { TlsEndWatch } from './tls-end-watch.js';

export interface PassiveOptions {
  readonly host: string;
  readonly ports: { readonly from: number; readonly to: number } | null;
  /** The control connection's peer: the only address a data connection is taken from. */
  readonly clientAddress: string;
  readonly secureContext: tls.SecureContext;
  /** How long the client has to connect and complete TLS. */
  readonly timeoutMs: number;
}

export interface DataConnection {
  readonly socket: tls.TLSSocket;
  /** The client resumed a TLS session (the control connection's) instead of a full handshake. */
  readonly resumed: boolean;
  /** Of an upload's connection: whether the client ended it with close_notify (tls-end-watch.ts). */
  endedWithAlert(): boolean;
}

function listenOn(server: net.Server, host: string, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') resolve(false);
      else reject(error);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve(true);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

export class PassiveListener {
  /** The client's TCP connection, held paused until the transfer command says how to secure it. */
  private readonly accepted: Promise<net.Socket>;
  private socket: net.Socket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private secure: tls.TLSSocket | undefined;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    private readonly options: PassiveOptions,
  ) {
    this.accepted = new Promise<net.Socket>((resolve, reject) => {
      this.timer = setTimeout(() => {
        reject(new Error('no data connection came in time'));
        this.close();
      }, options.timeoutMs);
      server.on('connection', (socket) => {
        const from = plainAddress(socket.remoteAddress ?? '');
        if (this.socket || from !== plainAddress(options.clientAddress)) {
          socket.destroy();
          return;
        }
        server.close();
        socket.setNoDelay(true);
        socket.pause();
        this.socket = socket;
        resolve(socket);
      });
    });
    // Nobody may be waiting yet; a failure surfaces when the transfer asks.
    this.accepted.catch(() => {});
  }

  /** Listens on a free port of the range, starting at a random one; none free is an error. */
  static async open(options: PassiveOptions): Promise<PassiveListener> {
    const server = net.createServer({ pauseOnConnect: false });
    const { ports } = options;
    if (!ports) {
      await listenOn(server, options.host, 0);
    } else {
      const count = ports.to - ports.from + 1;
      const first = Math.floor(Math.random() * count);
      let listening = false;
      for (let i = 0; i < count && !listening; i++) {
        listening = await listenOn(server, options.host, ports.from + ((first + i) % count));
      }
      if (!listening) throw new Error(`no free passive port in ${ports.from}-${ports.to}`);
    }
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    return new PassiveListener(server, port, options);
  }

  /**
   * The data connection, once it came from the client's address and TLS is up. With
   * `watchEnd` (uploads), TLS runs over a TlsEndWatch, which tells a whole upload from one cut
   * short; otherwise over the socket itself (the faster path).
   */
  async secured(options: { watchEnd: boolean }): Promise<DataConnection> {
    const raw = await this.accepted;
    const watch = options.watchEnd ? new TlsEndWatch(raw) : undefined;
    const secure = new tls.TLSSocket(watch ?? raw, {
      isServer: true,
      secureContext: this.options.secureContext,
      requestCert: false,
    });
    this.secure = secure;
    if (!watch) raw.resume();
    await new Promise<void>((resolve, reject) => {
      secure.once('secure', () => resolve());
      secure.once('error', reject);
      secure.once('close', () => reject(new Error('the data connection closed before TLS was set up')));
    });
    clearTimeout(this.timer);
    return {
      socket: secure,
      resumed: secure.isSessionReused(),
      endedWithAlert: () => watch?.endedWithAlert() ?? false,
    };
  }

  close(): void {
    clearTimeout(this.timer);
    this.server.close();
    this.secure?.destroy();
    this.socket?.destroy();
  }
}

/** An IPv4-mapped IPv6 address as plain IPv4. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/** The PASV reply's `h1,h2,h3,h4,p1,p2` (RFC 959), for an IPv4 address. */
export function pasvAddress(ipv4: string, port: number): string {
  return `${ipv4.replaceAll('.', ',')},${port >> 8},${port & 0xff}`;
}
