/** Ticket calls name an unknown user: the integrator holding the secret already knows the name. */
export function ticketProblem(error: unknown): unknown {
  return error instanceof SignInRefused && error.reason === 'unknown-user'
    ? new Problem(401, 'unknown-user', 'No user has the name or address the ticket call gave')
    : error;
}

import { InvalidPublicKey } from '../adapters/ssh/public-keys.js';
import { FileError, type FileErrorCode } from '../application/files/file-session.js';
/**
 * The one place where the core's typed errors become HTTP problems. Each rule that says no
 * has a stable problem type; sign-in refusals never tell an unknown user from a wrong password.
 */
import { type SignInFailureReason, SignInRefused, SignInThrottled } from '../application/sign-in.js';
import { DomainError } from '../domain/decider.js';
import { WrongExpectedRevision } from '../domain/event-store.js';
import { Problem } from './problem.js';

const signInProblems: Record<SignInFailureReason, [number, string, string]> = {
  'invalid-credentials': [401, 'invalid-credentials', 'The user name or password is wrong'],
  'unknown-user': [401, 'invalid-credentials', 'The user name or password is wrong'],
  'user-disabled': [401, 'invalid-credentials', 'The user name or password is wrong'],
  'unknown-application': [403, 'unknown-application', 'The application is not registered'],
  'application-disabled': [403, 'application-disabled', 'The application is disabled'],
  'ticket-malformed': [401, 'ticket-malformed', 'The ticket cannot be read'],
  'ticket-wrong-key': [401, 'ticket-wrong-key', 'The ticket was not made with this site’s secret'],
  'ticket-expired': [401, 'ticket-expired', 'The ticket is too old (or from the future)'],
  'ticket-replayed': [401, 'ticket-replayed', 'The ticket has already been used'],
  'ticket-wrong-site': [401, 'ticket-wrong-site', 'The ticket names another site'],
  'service-session-invalid': [401, 'service-session-invalid', 'The service session is not alive'],
  'missing-right': [403, 'missing-right', 'The service user may not impersonate'],
  'target-privileged': [
    403,
    'target-privileged',
    'Users holding admin, auditor or impersonate cannot be impersonated',
  ],
  'application-not-allowed': [
    403,
    'application-not-allowed',
    'A service may impersonate only within its own session’s application',
  ],
  'privileged-user': [
    401,
    'invalid-credentials',
    'Users holding admin, auditor or impersonate cannot sign in with a ticket',
  ],
  banned: [
    429,
    'too-many-failures',
    'Too many failed sign-ins from this address or for this user: try later',
  ],
  'ticket-mismatch': [
    401,
    'ticket-mismatch',
    'The ticket was minted for another application, e-mail address or name',
  ],
};

const domainProblems: Record<string, [number, string]> = {
  'user-unknown': [404, 'user-not-found'],
  'user-deleted': [404, 'user-not-found'],
  'user-exists': [409, 'user-exists'],
  'user-name-taken': [409, 'user-name-taken'],
  'email-address-taken': [409, 'email-address-taken'],
  'duplicate-key': [400, 'duplicate-key'],
  'invalid-user-name': [400, 'invalid-user-name'],
  'invalid-home-folder': [400, 'invalid-home-folder'],
  'stale-credential': [409, 'concurrent-change'],
  'application-id-reserved': [400, 'application-id-reserved'],
  'application-exists': [409, 'application-exists'],
  'application-unknown': [404, 'application-not-found'],
  'session-unknown': [404, 'session-not-found'],
  'session-ended': [409, 'session-ended'],
  'session-exists': [409, 'session-exists'],
  'close-forbidden': [403, 'forbidden'],
};

/** The file-operations core's errors, as HTTP sees them. */
const fileProblems: Record<FileErrorCode, [number, string]> = {
  'not-found': [404, 'file-not-found'],
  'permission-denied': [403, 'permission-denied'],
  'invalid-path': [400, 'invalid-path'],
  'already-exists': [412, 'already-exists'],
  'not-a-directory': [409, 'not-a-folder'],
  'is-a-directory': [409, 'is-a-folder'],
  'not-empty': [409, 'folder-not-empty'],
  'no-space': [507, 'no-space'],
  unsupported: [501, 'unsupported'],
  'too-many-handles': [503, 'too-busy'],
  'digest-mismatch': [400, 'digest-mismatch'],
  'too-large': [413, 'too-large'],
  'quota-exceeded': [507, 'quota-exceeded'],
  failure: [500, 'file-operation-failed'],
};

export function toProblem(error: unknown): Problem | undefined {
  if (error instanceof Problem) return error;
  if (error instanceof FileError) {
    const [status, slug] = fileProblems[error.code];
    return new Problem(status, slug, error.message);
  }
  if (error instanceof SignInThrottled) {
    const seconds = Math.max(1, Math.ceil((error.until.getTime() - Date.now()) / 1000));
    const [status, slug, title] = signInProblems.banned;
    return new Problem(status, slug, title, undefined, { 'retry-after': String(seconds) });
  }
  if (error instanceof SignInRefused) {
    const [status, slug, title] = signInProblems[error.reason];
    return new Problem(status, slug, title);
  }
  if (error instanceof DomainError) {
    const [status, slug] = domainProblems[error.code] ?? [409, error.code];
    return new Problem(status, slug, error.message);
  }
  if (error instanceof InvalidPublicKey) return new Problem(400, 'invalid-public-key', error.message);
  if (error instanceof WrongExpectedRevision) {
    return new Problem(409, 'concurrent-change', 'Too many concurrent changes; try again');
  }
  return undefined;
}
