/**
 * Webhook sender: one signed JSON POST per delivery. The request carries the delivery's id
 * (`Sluice-Delivery`, the same on every retry, so a receiver can drop a redelivery), the event
 * type (`Sluice-Event`) and an HMAC signature over the timestamp and raw body
 * (`Sluice-Signature`, webhook-signature.ts). Redirects are not followed: a signed request is
 * for the configured URL only, and a 3xx says the configuration is out of date. The timeout
 * covers connecting, sending and the answer's status line and headers; the answer's body is
 * never read.
 */
import { checkDeliveryId, NotificationError, transportError } from './notification-error.js';
import { SIGNATURE_HEADER, signWebhook } from './webhook-signature.js';

export interface WebhookTarget {
  readonly url: string;
  readonly secret: string;
  readonly timeoutMs: number;
}

export interface WebhookDelivery {
  readonly deliveryId: string;
  readonly eventType: string;
  readonly body: unknown;
}

/** Printable ASCII without spaces, as the header values are sent verbatim. */
const TOKEN = /^[\x21-\x7e]{1,128}$/;

/** HTTP statuses that say "later": the peer is overloaded, rate-limits or timed out waiting for us. */
function retryableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

function checkTarget(target: WebhookTarget): URL {
  let url: URL;
  try {
    url = new URL(target.url);
  } catch {
    throw new NotificationError(
      'bad-config',
      false,
      `webhook URL ${JSON.stringify(target.url)} is not a URL`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new NotificationError('bad-config', false, `webhook URL must be http(s), not ${url.protocol}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new NotificationError(
      'bad-config',
      false,
      'webhook URL must not hold credentials (the signature authenticates)',
    );
  }
  if (target.secret.length === 0) throw new NotificationError('bad-config', false, 'webhook secret is empty');
  if (!Number.isSafeInteger(target.timeoutMs) || target.timeoutMs <= 0) {
    throw new NotificationError(
      'bad-config',
      false,
      `webhook timeout must be positive ms, not ${target.timeoutMs}`,
    );
  }
  return url;
}

/**
 * POSTs `delivery` to `target`; resolves on 2xx, throws NotificationError otherwise. `now` is
 * the clock the signature's timestamp is taken from.
 */
export async function postWebhook(
  target: WebhookTarget,
  delivery: WebhookDelivery,
  now: () => Date = () => new Date(),
): Promise<{ status: number }> {
  const url = checkTarget(target);
  checkDeliveryId(delivery.deliveryId);
  if (!TOKEN.test(delivery.eventType)) {
    throw new NotificationError(
      'bad-message',
      false,
      `event type ${JSON.stringify(delivery.eventType)} is not a header token`,
    );
  }
  const rawBody = JSON.stringify(delivery.body);
  if (rawBody === undefined) throw new NotificationError('bad-message', false, 'webhook body is not JSON');
  const timestamp = Math.floor(now().getTime() / 1000);
  const signal = AbortSignal.timeout(target.timeoutMs);
  const where = `webhook ${url.origin}`;
  let status: number;
  try {
    const response = await fetch(url, {
      method: 'POST',
      redirect: 'manual',
      signal,
      headers: {
        'Content-Type': 'application/json',
        'Sluice-Delivery': delivery.deliveryId,
        'Sluice-Event': delivery.eventType,
        [SIGNATURE_HEADER]: signWebhook(target.secret, timestamp, rawBody),
      },
      body: rawBody,
    });
    status = response.status;
    // The answer's body is never used: cancelled rather than read, so a receiver cannot make
    // Sluice hold a large one in memory (the connection is then not reused).
    await response.body?.cancel();
  } catch (error) {
    if (signal.aborted) {
      throw new NotificationError('timeout', true, `${where}: no answer within ${target.timeoutMs} ms`, {
        cause: error,
      });
    }
    throw transportError(error, where);
  }
  if (status >= 200 && status < 300) return { status };
  if (status >= 300 && status < 400) {
    throw new NotificationError(
      'redirect',
      false,
      `${where} answered ${status} (redirects are not followed)`,
      {
        status,
      },
    );
  }
  throw new NotificationError('http-status', retryableStatus(status), `${where} answered ${status}`, {
    status,
  });
}
