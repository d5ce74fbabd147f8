/** Asserting a sender's failure: a NotificationError with the expected code, verdict and status. */
import assert from 'node:assert/strict';
import { NotificationError } from '../../src/adapters/notify/notification-error.js';

export async function expectFailure(
  promise: Promise<unknown>,
  expected: { code: string; retryable: boolean; status?: number },
  label = '',
): Promise<NotificationError> {
  const error = await promise.then(
    () => assert.fail(`expected a NotificationError ${label}`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof NotificationError, String(error));
  assert.deepEqual(
    {
      code: error.code,
      retryable: error.retryable,
      ...('status' in expected ? { status: error.status } : {}),
    },
    expected,
    `${label} ${error.message}`,
  );
  return error;
}
