/**
 * Syslog sender: RFC 5424 messages (syslog-format.ts) over one TCP or TLS connection (RFC
 * 5425) with octet-counting framing (RFC 6587), the delivery id in the structured data
 * (`deliveryId="…"`, first) so a collector can drop a redelivery.
 *
 * The connection is opened on the first send and kept; when it fails or the collector closes
 * it, it is dropped and the next send opens a new one. A send resolves when the socket has
 * handed the bytes to the kernel (the write callback): syslog has no acknowledgement, so a
 * message written just as the collector went away can still be lost without an error. That
 * is the protocol's limit; the deliveryId lets a redelivery after a reported failure be
 * recognised. A connection that does not open, or a write that does not flush, within
 * `timeoutMs` fails retryably and the connection is dropped.
 */
import net from 'node:net';
import tls from 'node:tls';
import { checkDeliveryId, NotificationError, transportError } from './notification-error.js';
import {
  DEFAULT_MAX_BYTES,
  type Facility,
  formatSyslog5424,
  frameOctetCounting,
  type Severity,
} from './syslog-format.js';

export interface SyslogConfig {
  readonly host: string;
  readonly port: number;
  /** TLS (RFC 5425); the collector's certificate is verified against `ca` (or the system's CAs). */
  readonly tls?: {
    readonly ca?: string;
    readonly servername?: string;
    readonly rejectUnauthorized?: boolean;
  };
  readonly appName: string;
  readonly hostname: string;
  readonly facility: Facility;
  readonly procId?: string;
  /** Bound on connecting and on flushing one message (default 10 s). */
  readonly timeoutMs?: number;
  /** The longest message in octets, framing excluded (default 8192). */
  readonly maxMessageBytes?: number;
  /** Told when an open connection ends (for logs and metrics; the next send reconnects). */
  readonly onDisconnect?: (error?: Error) => void;
}

export interface SyslogDelivery {
  readonly deliveryId: string;
  readonly severity: Severity;
  /** E.g. the event type: at most 32 printable ASCII characters. */
  readonly msgId: string;
  readonly timestamp: Date;
  readonly structuredData: Readonly<Record<string, string>>;
  readonly message: string;
}

export interface SyslogSender {
  send(delivery: SyslogDelivery): Promise<void>;
  /** Ends the connection (after what was written is flushed). */
  close(): Promise<void>;
}

type Socket = net.Socket | tls.TLSSocket;

export function createSyslogSender(config: SyslogConfig): SyslogSender {
  const timeoutMs = config.timeoutMs ?? 10_000;
  const where = `syslog ${config.host}:${config.port}`;
  if (config.host === '' || !Number.isInteger(config.port) || config.port < 1 || config.port > 65_535) {
    throw new NotificationError('bad-config', false, `${where}: not a host and port`);
  }
  // The fixed fields are checked now, as configuration, rather than at the first send.
  try {
    formatSyslog5424({
      ...config,
      severity: 0,
      timestamp: new Date(0),
      msgId: '',
      structuredData: {},
      message: '',
    });
  } catch (error) {
    throw new NotificationError('bad-config', false, (error as Error).message);
  }

  /** The open connection, if any; `opening` while one is being opened (shared by concurrent sends). */
  let socket: Socket | null = null;
  let opening: Promise<Socket> | null = null;

  function open(): Promise<Socket> {
    return new Promise<Socket>((resolve, reject) => {
      const connected: Socket = config.tls
        ? tls.connect({
            host: config.host,
            port: config.port,
            ca: config.tls.ca,
            servername: config.tls.servername ?? (net.isIP(config.host) ? undefined : config.host),
            rejectUnauthorized: config.tls.rejectUnauthorized ?? true,
          })
        : net.connect({ host: config.host, port: config.port });
      const timer = setTimeout(() => {
        connected.destroy();
        reject(new NotificationError('timeout', true, `${where}: no connection within ${timeoutMs} ms`));
      }, timeoutMs);
      const failed = (error: Error) => {
        clearTimeout(timer);
        reject(transportError(error, where));
      };
      connected.once('error', failed);
      connected.once(config.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        connected.off('error', failed);
        connected.setKeepAlive(true);
        connected.setNoDelay(true);
        // A collector never speaks; whatever it sends is read and dropped so it cannot pile up.
        connected.on('data', () => {});
        let lastError: Error | undefined;
        connected.on('error', (error) => {
          lastError = error;
        });
        connected.once('close', () => {
          if (socket === connected) socket = null;
          config.onDisconnect?.(lastError);
        });
        resolve(connected);
      });
    });
  }

  /** The open connection, or a new one when there is none or it has ended. */
  function connection(): Promise<Socket> {
    if (socket && !socket.destroyed && socket.writable) return Promise.resolve(socket);
    socket = null;
    opening ??= open()
      .then((opened) => {
        socket = opened;
        return opened;
      })
      .finally(() => {
        opening = null;
      });
    return opening;
  }

  function write(socket: Socket, frame: Buffer): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new NotificationError('timeout', true, `${where}: not flushed within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.write(frame, (error) => {
        clearTimeout(timer);
        if (error) {
          socket.destroy();
          reject(transportError(error, where));
        } else resolve();
      });
    });
  }

  return {
    async send(delivery) {
      checkDeliveryId(delivery.deliveryId);
      const { deliveryId: _ignored, ...rest } = delivery.structuredData;
      const message = formatSyslog5424(
        {
          facility: config.facility,
          severity: delivery.severity,
          timestamp: delivery.timestamp,
          hostname: config.hostname,
          appName: config.appName,
          procId: config.procId,
          msgId: delivery.msgId,
          structuredData: { deliveryId: delivery.deliveryId, ...rest },
          message: delivery.message,
        },
        config.maxMessageBytes ?? DEFAULT_MAX_BYTES,
      );
      await write(await connection(), frameOctetCounting(message));
    },
    async close() {
      const open = socket ?? (await opening?.catch(() => null));
      socket = null;
      if (!open || open.destroyed) return;
      await new Promise<void>((resolve) => {
        open.once('close', () => resolve());
        open.end();
      });
    },
  };
}
