/**
 * Per-path permissions, checked in one place for every protocol. A user's entries name
 * virtual paths; the most specific entry that contains a path decides for it. A user with no
 * entries may do everything inside their home; once entries exist, paths no entry covers
 * allow nothing.
 */
import { isWithin } from './virtual-path.js';

export type FilePermission =
  | 'list'
  | 'download'
  | 'upload'
  | 'overwrite'
  | 'delete'
  | 'rename'
  | 'mkdir'
  | 'rmdir';

export const ALL_PERMISSIONS: readonly FilePermission[] = [
  'list',
  'download',
  'upload',
  'overwrite',
  'delete',
  'rename',
  'mkdir',
  'rmdir',
];

export interface PathPermissionEntry {
  readonly path: string;
  readonly permissions: readonly FilePermission[];
}

export function permissionsAt(
  entries: readonly PathPermissionEntry[],
  path: string,
): readonly FilePermission[] {
  if (entries.length === 0) return ALL_PERMISSIONS;
  let best: PathPermissionEntry | undefined;
  for (const entry of entries) {
    if (isWithin(path, entry.path) && (best === undefined || entry.path.length > best.path.length))
      best = entry;
  }
  return best?.permissions ?? [];
}

export function isPermitted(
  entries: readonly PathPermissionEntry[],
  path: string,
  permission: FilePermission,
): boolean {
  return permissionsAt(entries, path).includes(permission);
}
