/** The one mapping from the core's `FileError` codes (and anything else thrown) to SFTP status codes. */
import { FileError, type FileErrorCode } from '../../../application/files/file-session.js';
import { StatusCode } from './constants.js';

export interface SftpLogger {
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface SftpStatus {
  readonly code: StatusCode;
  readonly message: string;
}

const BY_CODE: Record<FileErrorCode, SftpStatus> = {
  'not-found': { code: StatusCode.NO_SUCH_FILE, message: 'no such file or directory' },
  'permission-denied': { code: StatusCode.PERMISSION_DENIED, message: 'permission denied' },
  'invalid-path': { code: StatusCode.PERMISSION_DENIED, message: 'invalid path' },
  'already-exists': { code: StatusCode.FAILURE, message: 'file already exists' },
  'not-empty': { code: StatusCode.FAILURE, message: 'directory not empty' },
  'is-a-directory': { code: StatusCode.FAILURE, message: 'is a directory' },
  'not-a-directory': { code: StatusCode.FAILURE, message: 'not a directory' },
  'no-space': { code: StatusCode.FAILURE, message: 'no space left' },
  'too-many-handles': { code: StatusCode.FAILURE, message: 'too many open handles' },
  'digest-mismatch': { code: StatusCode.FAILURE, message: 'the data does not match its digest' },
  'too-large': { code: StatusCode.FAILURE, message: 'the file is larger than allowed' },
  'quota-exceeded': { code: StatusCode.FAILURE, message: 'your quota is used up' },
  failure: { code: StatusCode.FAILURE, message: 'failure' },
  unsupported: { code: StatusCode.OP_UNSUPPORTED, message: 'operation not supported' },
};

export const INTERNAL_ERROR: SftpStatus = { code: StatusCode.FAILURE, message: 'internal error' };

/**
 * A `FileError` becomes its status with the core's message (written for the user); anything else
 * is logged and answered FAILURE "internal error" without details.
 */
export function statusForError(error: unknown, logger: SftpLogger, context: object = {}): SftpStatus {
  if (error instanceof FileError) {
    const mapped = BY_CODE[error.code] ?? INTERNAL_ERROR;
    return { code: mapped.code, message: error.message || mapped.message };
  }
  logger.error({ ...context, err: error }, 'SFTP request failed with an unexpected error');
  return INTERNAL_ERROR;
}
