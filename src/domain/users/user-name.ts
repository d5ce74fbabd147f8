/**
 * What a user name and a home folder may be. A user's default home folder is derived from its
 * name (`/<name, case-folded>`), and a home folder is a place on disk: a name that holds a
 * separator, or is `.` or `..`, would put the home inside another user's folder or above the
 * files root. One rule here serves the API, the deciders and the file-operations core (which
 * refuses every file operation to a user whose stored name or home breaks it: users created
 * before the rule existed).
 */
import { DomainError } from '../decider.js';
import { MAX_NAME_BYTES } from '../files/virtual-path.js';
import { foldCase } from './reservation.js';

export const MAX_USER_NAME_LENGTH = 64;
export const MAX_HOME_FOLDER_LENGTH = 1024;

/** Whether `text` holds a C0 control (NUL included), DEL or a C1 control. */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return true;
  }
  return false;
}

/** Why `userName` is not acceptable, or null when it is. */
export function userNameProblem(userName: string): string | null {
  if (userName.length === 0) return 'a user name may not be empty';
  if (userName.length > MAX_USER_NAME_LENGTH)
    return `a user name may have at most ${MAX_USER_NAME_LENGTH} characters`;
  if (hasControl(userName)) return 'a user name may not hold NUL or other control characters';
  if (userName.includes('/') || userName.includes('\\'))
    return 'a user name may not hold a slash or a backslash';
  if (userName.trim() !== userName) return 'a user name may not begin or end with white space';
  const folded = foldCase(userName);
  if (folded === '.' || folded === '..') return 'a user name may not be "." or ".."';
  if (Buffer.byteLength(folded) > MAX_NAME_BYTES)
    return `a user name may have at most ${MAX_NAME_BYTES} bytes in UTF-8`;
  return null;
}

/**
 * Why `homeFolder` is not acceptable, or null when it is: an absolute, canonical virtual path
 * (`/` or `/a/b`: no empty, `.` or `..` segment, no backslash, no control character, names of
 * at most 255 bytes, 1024 characters in all). `/` (the whole files root) is allowed: an
 * administrator may give it on purpose.
 */
export function homeFolderProblem(homeFolder: string): string | null {
  if (homeFolder.length > MAX_HOME_FOLDER_LENGTH)
    return `a home folder may have at most ${MAX_HOME_FOLDER_LENGTH} characters`;
  if (!homeFolder.startsWith('/')) return 'a home folder is an absolute path (it starts with /)';
  if (homeFolder === '/') return null;
  if (hasControl(homeFolder)) return 'a home folder may not hold NUL or other control characters';
  if (homeFolder.includes('\\')) return 'a home folder may not hold a backslash';
  for (const segment of homeFolder.slice(1).split('/')) {
    if (segment === '') return 'a home folder may not hold an empty segment (// or a trailing /)';
    if (segment === '.' || segment === '..') return 'a home folder may not hold "." or ".." segments';
    if (Buffer.byteLength(segment) > MAX_NAME_BYTES)
      return `a home folder's names may have at most ${MAX_NAME_BYTES} bytes`;
  }
  return null;
}

/** Default home folder: the user's name, case-folded, one level under the files root. */
export function defaultHomeFolder(userName: string): string {
  requireValidUserName(userName);
  return `/${foldCase(userName)}`;
}

export function requireValidUserName(userName: string): void {
  const problem = userNameProblem(userName);
  if (problem !== null) throw new DomainError('invalid-user-name', problem);
}

export function requireValidHomeFolder(homeFolder: string): void {
  const problem = homeFolderProblem(homeFolder);
  if (problem !== null) throw new DomainError('invalid-home-folder', problem);
}

/**
 * Whether a stored user may reach files: its name and its home folder must both pass the rules
 * (a user created before them could hold `..` or `bob/x@example.com`). The reason, or null.
 */
export function unsafeStoredUser(user: { userName: string; homeFolder: string }): string | null {
  const nameProblem = userNameProblem(user.userName);
  if (nameProblem !== null) return `the user name is not safe for files (${nameProblem})`;
  const homeProblem = homeFolderProblem(user.homeFolder);
  if (homeProblem !== null) return `the home folder is not safe (${homeProblem})`;
  return null;
}
