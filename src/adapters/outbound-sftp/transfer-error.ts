/**
 * The one error an outbound SFTP transfer throws, with a code the delivery machinery can record
 * and a `retryable` flag it can act on without knowing SFTP. Retryable means "the same attempt
 * later may succeed": the peer was down, slow or refused something an operator can fix there (a
 * missing folder, a full disk), and the delivery's own attempt limit stops a refusal that stays.
 * Not retryable means only a change of configuration or source helps (a wrong host key or
 * credentials, a source file that no longer has the recorded hash, an invalid target).
 */
export type OutboundTransferCode =
  | 'invalid-target'
  | 'host-key-mismatch'
  | 'auth-failed'
  | 'unreachable'
  | 'remote-error'
  | 'verify-failed'
  | 'source-changed'
  | 'timeout';

const RETRYABLE: Record<OutboundTransferCode, boolean> = {
  'invalid-target': false,
  'host-key-mismatch': false,
  'auth-failed': false,
  unreachable: true,
  'remote-error': true,
  'verify-failed': true,
  'source-changed': false,
  timeout: true,
};

export class OutboundTransferError extends Error {
  readonly code: OutboundTransferCode;
  readonly retryable: boolean;

  constructor(code: OutboundTransferCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OutboundTransferError';
    this.code = code;
    this.retryable = RETRYABLE[code];
  }
}
