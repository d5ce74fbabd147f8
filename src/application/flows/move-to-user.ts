/**
 * A flow's transfer to another user's folder, through the file core like any front end (the
 * core checks the path, stages and records the upload; the source user's download and delete
 * are recorded too), as `flowActor`s limited to the flow's two folders.
 *
 * Idempotent, so an attempt after a crash finishes the work instead of doing it twice: when
 * the target already holds the recorded bytes the copy is skipped; the source is removed only
 * while it still holds them (a newer upload of the same name has a delivery of its own).
 */
import type { FlowDefinition } from '../../domain/flows/flow.js';
import { targetPath } from '../../domain/flows/flow-rules.js';
import type { UserProfile } from '../../domain/users/user.js';
import { DeliveryError } from '../deliveries/delivery-error.js';
import type { DueDelivery } from '../deliveries/worker.js';
import type { FileOperations, Storage } from '../files/file-operations.js';
import { FileError, READ_ONLY } from '../files/file-session.js';
import { digestAt } from './file-digest.js';
import { flowActor } from './flow-actor.js';

type UserTarget = Extract<FlowDefinition['target'], { kind: 'user' }>;
type DeliveryFile = NonNullable<DueDelivery['file']>;

export interface MoveToUserDeps {
  readonly files: FileOperations;
  readonly storage: Pick<Storage, 'home' | 'find' | 'openForRead'>;
}

async function* chunksOf(handle: { read(offset: number, length: number): Promise<Buffer | null> }) {
  for (let offset = 0; ; ) {
    const chunk = await handle.read(offset, 256 * 1024);
    if (chunk === null || chunk.length === 0) return;
    offset += chunk.length;
    yield chunk;
  }
}

/** The target folder and the folders below it that the file's path needs, made when missing. */
async function ensureFolders(session: ReturnType<FileOperations['session']>, folder: string, path: string) {
  const parents: string[] = [];
  for (let at = path.lastIndexOf('/'); at >= folder.length && at > 0; at = path.lastIndexOf('/', at - 1))
    parents.unshift(path.slice(0, at));
  for (const parent of parents) {
    try {
      await session.mkdir(parent);
    } catch (error) {
      // mkdir refuses a folder that is there before anything is noted or recorded.
      if (!(error instanceof FileError && error.code === 'already-exists')) throw error;
    }
  }
}

/**
 * Removes a flow's source file once it is delivered, while it still holds the bytes the
 * delivery moved (a newer upload of that name has a delivery of its own). Recorded as the
 * source user's delete, by the flow.
 */
export async function removeIfUnchanged(
  deps: MoveToUserDeps,
  user: UserProfile,
  deliveryId: string,
  flow: FlowDefinition,
  file: DeliveryFile,
): Promise<void> {
  const home = await deps.storage.home(user.homeFolder);
  if ((await digestAt(deps.storage, home, file.path)) !== file.sha256) return;
  const source = deps.files.session(flowActor(user, deliveryId, flow.sourceFolder, ['list', 'delete']));
  try {
    await source.remove(file.path);
  } catch (error) {
    if (!(error instanceof FileError && error.code === 'not-found')) throw error;
  }
}

const goneFromSource = (file: DeliveryFile) =>
  new DeliveryError(`${file.path} is no longer in the source folder`, false);
const changedSince = (file: DeliveryFile) =>
  new DeliveryError(
    `${file.path} changed since the upload this delivery moves (a newer one moves it)`,
    false,
  );

export async function moveToUser(
  deps: MoveToUserDeps,
  flow: FlowDefinition,
  target: UserTarget,
  users: { source: UserProfile; target: UserProfile },
  delivery: DueDelivery,
  file: DeliveryFile,
): Promise<string> {
  const destination = targetPath(flow, file.path, target.folder);
  const sourceHome = await deps.storage.home(users.source.homeFolder);
  const targetHome = await deps.storage.home(users.target.homeFolder);
  const already = (await digestAt(deps.storage, targetHome, destination)) === file.sha256;
  let copied = false;
  if (!already) {
    // Only the source's size is looked at first (no read): its bytes are checked against the
    // recorded digest as they are copied, so the source is read once.
    const found = await deps.storage.find(sourceHome, file.path, false).catch(() => undefined);
    if (found === undefined) throw goneFromSource(file);
    if (found.size !== file.size) throw changedSince(file);
    const writer = deps.files.session(
      flowActor(users.target, delivery.deliveryId, target.folder, ['list', 'upload', 'overwrite', 'mkdir']),
    );
    await ensureFolders(writer, target.folder, destination);
    const reader = deps.files.session(
      flowActor(users.source, delivery.deliveryId, flow.sourceFolder, ['download']),
    );
    const handle = await reader.open(file.path, READ_ONLY).catch((error: unknown) => {
      if (error instanceof FileError && error.code === 'not-found') throw goneFromSource(file);
      throw error;
    });
    try {
      await writer.upload(
        destination,
        { chunks: chunksOf(handle), complete: (bytes) => bytes === file.size },
        { overwrite: true, maxBytes: Number.MAX_SAFE_INTEGER, expectedSha256: file.sha256 },
      );
    } catch (error) {
      if (error instanceof FileError && error.code === 'digest-mismatch') throw changedSince(file);
      if (
        error instanceof FileError &&
        ['permission-denied', 'invalid-path', 'quota-exceeded', 'too-large'].includes(error.code)
      )
        throw new DeliveryError(`the target refused the file: ${error.message}`, false);
      throw error;
    } finally {
      await handle.close().catch(() => undefined);
    }
    copied = true;
  }
  if (!flow.keepSource) await removeIfUnchanged(deps, users.source, delivery.deliveryId, flow, file);
  const how = copied ? `copied ${file.size} bytes` : 'already there';
  return `${how}: ${file.path} of user ${users.source.userId} to ${destination} of user ${users.target.userId}`;
}
