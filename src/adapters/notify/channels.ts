/**
 * The notification channels (application/notifications/notification-effect.ts) on the
 * senders of this folder: a webhook per message, one pooled SMTP sender for the configured
 * server, one syslog connection per collector (opened on first use, kept until stop).
 */
import os from 'node:os';
import type { NotificationChannels } from '../../application/notifications/notification-effect.js';
import { createSmtpSender, type SmtpConfig } from './smtp.js';
import { createSyslogSender, type SyslogSender } from './syslog.js';
import { postWebhook } from './webhook.js';

export interface ChannelsConfig {
  /** smtp://[user:pass@]host[:port] (STARTTLS required) or smtps:// (TLS from the start); null: no e-mail. */
  readonly smtpUrl: string | null;
  readonly smtpFrom: string;
  /** PEM of the CA that signs the SMTP server's certificate (default: the system's). */
  readonly smtpCa?: string;
  /** PEM of the CA that signs TLS syslog collectors' certificates (default: the system's). */
  readonly syslogCa?: string;
  readonly timeoutMs: number;
}

/** The SMTP sender's settings from a URL: `smtp://` requires STARTTLS unless `?tls=none`. */
export function smtpConfigOf(url: string, from: string, timeoutMs: number, ca?: string): SmtpConfig {
  // An smtp: or smtps: URL with a host: the configuration checked it (config.ts).
  const parsed = new URL(url);
  const secure = parsed.protocol === 'smtps:';
  return {
    host: parsed.hostname,
    port: Number(parsed.port || (secure ? 465 : 587)),
    secure,
    requireTls: !secure && parsed.searchParams.get('tls') !== 'none',
    ...(parsed.username
      ? { auth: { user: decodeURIComponent(parsed.username), pass: decodeURIComponent(parsed.password) } }
      : {}),
    from,
    timeoutMs,
    ...(ca === undefined ? {} : { tls: { ca } }),
  };
}

export function notificationChannels(
  config: ChannelsConfig,
): NotificationChannels & { close(): Promise<void> } {
  const smtp =
    config.smtpUrl === null
      ? undefined
      : createSmtpSender(smtpConfigOf(config.smtpUrl, config.smtpFrom, config.timeoutMs, config.smtpCa));
  const collectors = new Map<string, SyslogSender>();
  const hostname = os.hostname();
  return {
    async webhook(url, secret, deliveryId, eventType, body) {
      const { status } = await postWebhook(
        { url, secret, timeoutMs: config.timeoutMs },
        { deliveryId, eventType, body },
      );
      return `webhook ${url} answered ${status}`;
    },
    ...(smtp
      ? {
          async email(to, subject, deliveryId, body) {
            const sent = await smtp.send({ deliveryId, to, subject, body });
            return `mailed ${sent.messageId} to ${sent.accepted.join(', ')}`;
          },
        }
      : {}),
    async syslog(channel, deliveryId, body) {
      const key = `${channel.tls ? 'tls' : 'tcp'}://${channel.host}:${channel.port}`;
      let sender = collectors.get(key);
      if (!sender) {
        sender = createSyslogSender({
          host: channel.host,
          port: channel.port,
          ...(channel.tls ? { tls: config.syslogCa === undefined ? {} : { ca: config.syslogCa } } : {}),
          appName: 'sluice',
          hostname,
          facility: 'local0',
          procId: String(process.pid),
          timeoutMs: config.timeoutMs,
        });
        collectors.set(key, sender);
      }
      await sender.send({
        deliveryId,
        severity: 'notice',
        msgId: body.event.type.slice(0, 32),
        timestamp: new Date(body.event.recordedAt),
        structuredData: { position: String(body.event.position), notifier: body.notifier.notifierId },
        message: JSON.stringify(body),
      });
      return `sent to syslog ${key}`;
    },
    async close() {
      smtp?.close();
      await Promise.allSettled([...collectors.values()].map((s) => s.close()));
    },
  };
}
