/**
 * How an effect says it failed: `retryable` failures are tried again after the back-off (the
 * network, a peer's 5xx, a timeout); the others dead-letter the delivery at once (a rejected
 * host key, a refused recipient, a removed flow). Any other error counts as retryable.
 */
export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

export function isRetryable(error: unknown): boolean {
  if (error instanceof DeliveryError) return error.retryable;
  if (error && typeof error === 'object' && 'retryable' in error && typeof error.retryable === 'boolean')
    return error.retryable;
  return true;
}
