/**
 * The webhook receiver (webhook-peer.py, Debian's python3): verifies each request's signature
 * itself and records it. `url(path)` picks its answer: `/status/<code>`, `/slow/<ms>`,
 * `/redirect`, anything else 200 (401 when the signature fails). A `port` lets a test name the
 * receiver's URL before it knows the secret (a notifier's secret comes from defining it).
 */
import path from 'node:path';
import { spawnPeer } from './peer-process.js';

export interface ReceivedWebhook {
  readonly path: string;
  readonly deliveryId: string | null;
  readonly eventType: string | null;
  readonly contentType: string | null;
  /** The raw body as received. */
  readonly body: string;
  /** "ok", or why the receiver refused it: "malformed", "mismatch", "too-old". */
  readonly signature: string;
  readonly signatureHeader: string | null;
  /** A redelivery of an id this receiver already accepted. */
  readonly duplicate: boolean;
}

export interface WebhookPeer {
  url(pathname?: string): string;
  /** Every request received so far. */
  received(): ReceivedWebhook[];
  /** Resolves with the requests once at least `count` arrived. */
  waitFor(count: number): Promise<ReceivedWebhook[]>;
  stop(): Promise<void>;
}

const SCRIPT = path.join(import.meta.dirname, 'webhook-peer.py');

export async function startWebhookPeer(secret: string, port?: number): Promise<WebhookPeer> {
  const peer = spawnPeer('/usr/bin/python3', [SCRIPT, secret, ...(port === undefined ? [] : [String(port)])]);
  const [first] = await peer.waitForLines(1);
  const listening = /^listening (\d+)$/.exec(first ?? '')?.[1];
  if (!listening) throw new Error(`webhook peer did not start: ${first} ${peer.stderr()}`);
  const received = () => peer.lines.slice(1).map((line) => JSON.parse(line) as ReceivedWebhook);
  return {
    url: (pathname = '/hook') => `http://127.0.0.1:${listening}${pathname}`,
    received,
    async waitFor(count) {
      await peer.waitForLines(count + 1);
      return received();
    },
    stop: () => peer.stop(),
  };
}
