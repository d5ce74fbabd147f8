/**
 * An SMTP server for tests: aiosmtpd (Debian's python3-aiosmtpd) under smtp-peer.py, which
 * prints each accepted message as it parsed it. Recipients whose local part starts with
 * `refuse` are answered 550, with `later` 451. `tls` offers STARTTLS (and requires it) or
 * implicit TLS with the given certificate; `auth` requires AUTH with that user and password.
 */
import path from 'node:path';
import { freePort } from './free-port.js';
import { spawnPeer } from './peer-process.js';
import type { TestCertificate } from './test-certificate.js';

export interface ReceivedMail {
  readonly mailFrom: string;
  readonly rcptTos: string[];
  readonly subject: string;
  readonly messageId: string;
  readonly from: string;
  readonly to: string;
  readonly contentType: string;
  /** The decoded body. */
  readonly body: string;
  readonly headers: Record<string, string>;
}

export interface SmtpPeer {
  readonly port: number;
  received(): ReceivedMail[];
  /** Resolves with the messages once at least `count` arrived. */
  waitFor(count: number): Promise<ReceivedMail[]>;
  stop(): Promise<void>;
}

const SCRIPT = path.join(import.meta.dirname, 'smtp-peer.py');

export async function startSmtpPeer(
  options: {
    tls?: { mode: 'starttls' | 'implicit'; certificate: TestCertificate };
    auth?: { user: string; pass: string };
  } = {},
): Promise<SmtpPeer> {
  const port = await freePort();
  const args = [SCRIPT, String(port), options.tls?.mode ?? 'plain'];
  if (options.tls) args.push(options.tls.certificate.certFile, options.tls.certificate.keyFile);
  if (options.auth) args.push(options.auth.user, options.auth.pass);
  const peer = spawnPeer('/usr/bin/python3', args);
  const [first] = await peer.waitForLines(1);
  if (first !== 'listening') throw new Error(`SMTP peer did not start: ${first} ${peer.stderr()}`);
  const received = () => peer.lines.slice(1).map((line) => JSON.parse(line) as ReceivedMail);
  return {
    port,
    received,
    async waitFor(count) {
      await peer.waitForLines(count + 1);
      return received();
    },
    stop: () => peer.stop(),
  };
}
