/**
 * The one failure every notification sender throws. `retryable` is the sender's verdict for
 * the delivery machinery: true when the same request may well succeed later (the peer was
 * unreachable or slow, an SMTP 4xx, an HTTP 5xx, 429 or 408), false when repeating it cannot
 * help (an HTTP 4xx, an SMTP 5xx, a bad configuration or message). `code` is a stable word for
 * logs and events; `status` the peer's own code when it answered (HTTP status, SMTP reply).
 */
export type NotificationErrorCode =
  | 'network'
  | 'timeout'
  | 'tls'
  | 'http-status'
  | 'redirect'
  | 'smtp-reply'
  | 'recipients-rejected'
  | 'bad-config'
  | 'bad-message';

export class NotificationError extends Error {
  readonly code: NotificationErrorCode;
  readonly retryable: boolean;
  readonly status?: number;

  constructor(
    code: NotificationErrorCode,
    retryable: boolean,
    message: string,
    options: { status?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'NotificationError';
    this.code = code;
    this.retryable = retryable;
    this.status = options.status;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The delivery id, checked before anything is sent: it goes on the wire verbatim. */
export function checkDeliveryId(deliveryId: string): void {
  if (!UUID.test(deliveryId)) {
    throw new NotificationError(
      'bad-message',
      false,
      `delivery id ${JSON.stringify(deliveryId)} is not a UUID`,
    );
  }
}

/** The `code` of an error or of the errors in its cause chain (fetch wraps the socket's). */
export function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  for (let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (typeof e.code === 'string') codes.push(e.code);
    e = e.cause as typeof e;
  }
  return codes;
}

/**
 * A transport failure as a NotificationError: a TLS verification failure is configuration (a
 * wrong CA or name does not heal by itself), as is an invalid argument (a malformed address);
 * anything else a socket says (refused, reset, unreachable, timed out, closed) is retryable.
 */
export function transportError(error: unknown, what: string): NotificationError {
  const codes = errorCodes(error);
  const message = `${what}: ${error instanceof Error ? error.message : String(error)}`;
  if (codes.some((c) => c.startsWith('ERR_TLS_') || c.includes('CERT') || c.startsWith('DEPTH_ZERO'))) {
    return new NotificationError('tls', false, message, { cause: error });
  }
  if (codes.some((c) => c.startsWith('ERR_INVALID'))) {
    return new NotificationError('bad-config', false, message, { cause: error });
  }
  return new NotificationError('network', true, message, { cause: error });
}
