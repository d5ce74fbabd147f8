/**
 * How an upload ends without a file: the one place UploadAborted is built, whichever way it
 * ends (refused at CLOSE, the client gone, the server stopped). The reason is recorded
 * escaped and bounded, so no message can make the record itself fail.
 */
import type { EventOfType } from '../events/catalogue.js';
import { escapeText } from '../text.js';

export type UploadAbortedEvent = EventOfType<'UploadAborted'>;

export const UPLOAD_ABORT_REASONS = {
  serverStopped: 'the server stopped during the upload',
  digestMismatch: 'the content does not match the digest the client sent',
  notStored: 'the file could not be stored',
} as const;

export function uploadAborted(
  upload: Pick<UploadAbortedEvent['data'], 'protocol' | 'path' | 'bytesReceived'>,
  reason: string,
): UploadAbortedEvent {
  return {
    type: 'UploadAborted',
    data: {
      protocol: upload.protocol,
      path: upload.path,
      bytesReceived: upload.bytesReceived,
      reason: escapeText(reason, 200) || 'aborted',
    },
  };
}
