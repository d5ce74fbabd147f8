/**
 * E-mail sender (nodemailer over SMTP): one message per delivery, its body the notification
 * as pretty-printed JSON in a single `application/json` part. The Message-ID is
 * `<deliveryId@sluice>`, so a redelivery is the same message to any mail system that
 * deduplicates by it, and a reader can match a mail to its delivery record. Connections are
 * pooled and reused until `close()`.
 *
 * Recipients: when every one is refused the send fails (retryable if any refusal was a 4xx);
 * when only some are, the message went to the others and `send` resolves, listing the refused
 * ones in `rejected` (retrying would send it twice to those who got it).
 */
import nodemailer from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
// One plain address (`local@domain`): no display name, list or line break for a header to split.
import { PLAIN_ADDRESS } from '../../domain/flows/notifier.js';
import { checkDeliveryId, NotificationError, transportError } from './notification-error.js';

export interface SmtpConfig {
  readonly host: string;
  readonly port: number;
  /** TLS from the first byte (port 465 style). */
  readonly secure: boolean;
  /** Refuse to send unless the server upgrades the connection with STARTTLS. */
  readonly requireTls: boolean;
  readonly auth?: { readonly user: string; readonly pass: string };
  readonly from: string;
  readonly tls?: { readonly ca?: string; readonly rejectUnauthorized?: boolean };
  /** Bound on connecting, the greeting and each reply (default 30 s). */
  readonly timeoutMs?: number;
}

export interface MailDelivery {
  readonly deliveryId: string;
  readonly to: readonly string[];
  readonly subject: string;
  readonly body: unknown;
}

export interface SmtpSender {
  send(delivery: MailDelivery): Promise<{ messageId: string; accepted: string[]; rejected: string[] }>;
  close(): void;
}

const MAX_RECIPIENTS = 100;

function badConfig(message: string): NotificationError {
  return new NotificationError('bad-config', false, message);
}

function checkConfig(config: SmtpConfig): void {
  if (config.host.length === 0) throw badConfig('SMTP host is empty');
  if (!Number.isInteger(config.port) || config.port < 1 || config.port > 65_535) {
    throw badConfig(`SMTP port ${config.port} is not a port`);
  }
  if (!PLAIN_ADDRESS.test(config.from))
    throw badConfig(`SMTP sender ${JSON.stringify(config.from)} is not an address`);
}

function checkDelivery(delivery: MailDelivery): string {
  checkDeliveryId(delivery.deliveryId);
  if (delivery.to.length === 0 || delivery.to.length > MAX_RECIPIENTS) {
    throw new NotificationError('bad-message', false, `a mail needs 1 to ${MAX_RECIPIENTS} recipients`);
  }
  for (const address of delivery.to) {
    if (!PLAIN_ADDRESS.test(address)) {
      throw new NotificationError(
        'bad-message',
        false,
        `recipient ${JSON.stringify(address)} is not an address`,
      );
    }
  }
  if (/[\r\n]/.test(delivery.subject)) {
    throw new NotificationError('bad-message', false, 'a mail subject is one line');
  }
  const json = JSON.stringify(delivery.body, null, 2);
  if (json === undefined) throw new NotificationError('bad-message', false, 'mail body is not JSON');
  return json;
}

type SmtpFailure = Error & {
  code?: string;
  responseCode?: number;
  rejectedErrors?: Array<{ responseCode?: number }>;
};

/**
 * nodemailer's error as a NotificationError. nodemailer replaces a socket error's own code
 * with its stage (`ESOCKET`, `ECONNECTION`, `ETIMEDOUT`), so a refused certificate is known by
 * its message; STARTTLS that could not be set up is `ETLS`, whatever the server answered (a
 * server that does not offer STARTTLS when it is required is a configuration matter).
 */
function smtpError(error: unknown, where: string): NotificationError {
  const e = error as SmtpFailure;
  const message = `${where}: ${e.message}`;
  if (e.code === 'EENVELOPE' && e.rejectedErrors?.length) {
    const transient = e.rejectedErrors.some((r) => r.responseCode !== undefined && r.responseCode < 500);
    return new NotificationError('recipients-rejected', transient, message, {
      status: e.responseCode,
      cause: e,
    });
  }
  if (
    e.code === 'ETLS' ||
    /certificate|self[- ]signed|altnames|Hostname\/IP does not match/i.test(e.message)
  ) {
    return new NotificationError('tls', false, message, { status: e.responseCode, cause: e });
  }
  if (typeof e.responseCode === 'number') {
    return new NotificationError('smtp-reply', e.responseCode < 500, message, {
      status: e.responseCode,
      cause: e,
    });
  }
  if (e.code === 'ETIMEDOUT') return new NotificationError('timeout', true, message, { cause: e });
  if (e.code === 'EAUTH' || e.code === 'EENVELOPE' || e.code === 'EMESSAGE') {
    return new NotificationError('bad-config', false, message, { cause: e });
  }
  return transportError(e, where);
}

export function createSmtpSender(config: SmtpConfig): SmtpSender {
  checkConfig(config);
  const timeout = config.timeoutMs ?? 30_000;
  const options: SMTPTransport.Options & { pool: true; maxConnections: number } = {
    pool: true,
    maxConnections: 2,
    host: config.host,
    port: config.port,
    secure: config.secure,
    requireTLS: config.requireTls,
    auth: config.auth && { user: config.auth.user, pass: config.auth.pass },
    tls: { ca: config.tls?.ca, rejectUnauthorized: config.tls?.rejectUnauthorized ?? true },
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    disableFileAccess: true,
    disableUrlAccess: true,
  };
  const transport = nodemailer.createTransport(options);
  const where = `SMTP ${config.host}:${config.port}`;
  return {
    async send(delivery) {
      const json = checkDelivery(delivery);
      const messageId = `<${delivery.deliveryId}@sluice>`;
      try {
        const info = await transport.sendMail({
          from: config.from,
          to: [...delivery.to],
          subject: delivery.subject,
          messageId,
          headers: { 'Sluice-Delivery': delivery.deliveryId },
          // A single alternative and no text part: the message is one application/json part.
          alternatives: [{ contentType: 'application/json; charset=utf-8', content: `${json}\n` }],
        });
        const addresses = (list: unknown[]) => list.map((a) => (typeof a === 'string' ? a : String(a)));
        return { messageId, accepted: addresses(info.accepted), rejected: addresses(info.rejected) };
      } catch (error) {
        throw smtpError(error, where);
      }
    },
    close() {
      transport.close();
    },
  };
}
