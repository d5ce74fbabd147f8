/**
 * The effect of a `scan` delivery: the post-processing hook (antivirus and the like, configured
 * with MFT_UPLOAD_SCAN_*) judges a complete upload before any flow may take it. A clean verdict
 * is recorded (`UploadScanned`), and the flows view then dispatches the file; a rejected file is
 * copied to the quarantine and deleted from the user's folder (recorded as a delete by the
 * scan), so it is never dispatched. A file replaced since its upload is not judged: its newer
 * upload has a scan of its own.
 */
import type { UserState } from '../../domain/users/user.js';
import { DeliveryError } from '../deliveries/delivery-error.js';
import type { Effect } from '../deliveries/worker.js';
import type { FileOperations, Storage } from '../files/file-operations.js';
import { FileError } from '../files/file-session.js';
import { digestAt } from './file-digest.js';
import { activeUser, flowActor } from './flow-actor.js';

export interface ScanVerdict {
  readonly verdict: 'clean' | 'rejected';
  readonly reason: string;
}

export interface UploadScanDeps<Config> {
  readonly files: FileOperations;
  readonly storage: Pick<Storage, 'home' | 'find' | 'openForRead'> & {
    locate(home: string, path: string): Promise<string>;
  };
  readonly users: { getUser(userId: number): Promise<UserState> };
  readonly scan: Config;
  readonly runHook: (
    config: Config,
    file: { localPath: string; virtualPath: string; userName: string; size: number; sha256: string },
    signal?: AbortSignal,
  ) => Promise<ScanVerdict>;
  /** Copies a rejected file to the quarantine under `name`; returns the name it got there. */
  readonly quarantine: (localPath: string, name: string) => Promise<string>;
}

export function uploadScanEffect<Config>(deps: UploadScanDeps<Config>): Effect {
  return async (delivery, signal) => {
    const file = delivery.file;
    if (file === null) throw new DeliveryError('a scan without a file', false);
    const user = await activeUser(deps.users, file.userId, 'uploading');
    const home = await deps.storage.home(user.homeFolder);
    if ((await digestAt(deps.storage, home, file.path)) !== file.sha256)
      return { result: `not scanned: ${file.path} was replaced or removed since this upload` };
    const localPath = await deps.storage.locate(home, file.path);
    const { verdict, reason } = await deps.runHook(
      deps.scan,
      { localPath, virtualPath: file.path, userName: user.userName, size: file.size, sha256: file.sha256 },
      signal,
    );
    let quarantinedAs: string | null = null;
    if (verdict === 'rejected') {
      quarantinedAs = await deps.quarantine(localPath, delivery.deliveryId);
      const folder = file.path.slice(0, file.path.lastIndexOf('/')) || '/';
      const session = deps.files.session(flowActor(user, delivery.deliveryId, folder, ['delete']));
      try {
        await session.remove(file.path);
      } catch (error) {
        if (!(error instanceof FileError && error.code === 'not-found')) throw error;
      }
    }
    return {
      result:
        verdict === 'clean' ? `clean: ${file.path}` : `rejected and quarantined: ${file.path} (${reason})`,
      scanned: {
        type: 'UploadScanned',
        data: { deliveryId: delivery.deliveryId, file, verdict, reason: reason.slice(0, 500), quarantinedAs },
      },
    };
  };
}
