/**
 * Which events a notification rule fires for. A filter names up to four lists; an event
 * matches when it matches every list the filter has (AND across fields) and, within a list,
 * any one entry (OR within a field).
 *
 * - An absent list means any value.
 * - An empty list means no value: a list is a set of allowed values, and nothing is in the
 *   empty set. The schema refuses empty lists (`minItems: 1`), so a rule made through the API
 *   never holds one; the function stays defined for them all the same.
 * - `operations` are compared exactly: the audit's operation names (`file.upload`,
 *   `file.delete`, `session.open`, …).
 * - `users` are compared as user names are everywhere (case-folded: `Alice` is `alice`).
 * - `paths` are picomatch globs matched against the whole virtual path, which always starts
 *   with `/`: `/inbox/*.csv` is one folder deep, `/inbox/**` everything below `/inbox`,
 *   `**\/*.csv` any CSV file at any depth. Dot files match like any other (`dot: true`): a
 *   filter must not quietly miss `.hidden`. An event without a path (a sign-in) never matches a
 *   filter with `paths`.
 */
import { type Static, Type } from '@sinclair/typebox';
import picomatch from 'picomatch';
import { Text } from '../events/schema-helpers.js';
import { foldCase } from '../users/reservation.js';

export const NOTIFICATION_FILTER_MAX_ENTRIES = 50;
export const NOTIFICATION_FILTER_MAX_LENGTH = 256;

function list<T extends ReturnType<typeof Text>>(item: T, description: string) {
  return Type.Optional(
    Type.Array(item, { minItems: 1, maxItems: NOTIFICATION_FILTER_MAX_ENTRIES, description }),
  );
}

const Entry = () => Text(NOTIFICATION_FILTER_MAX_LENGTH, 1);

export const FilterOutcome = Type.Union([Type.Literal('success'), Type.Literal('failure')]);

export const NotificationFilterSchema = Type.Object(
  {
    operations: list(Entry(), 'Audit operations to match (file.upload, session.open, …); absent: any.'),
    outcomes: Type.Optional(Type.Array(FilterOutcome, { minItems: 1, maxItems: 2, uniqueItems: true })),
    users: list(Entry(), 'User names to match, case-insensitively; absent: any.'),
    paths: list(
      Entry(),
      'Globs (picomatch) over the virtual path, which starts with "/"; absent: any. An event without a path never matches.',
    ),
  },
  { additionalProperties: false },
);

export type NotificationFilter = Static<typeof NotificationFilterSchema>;
export type NotificationOutcome = Static<typeof FilterOutcome>;

export interface FilterSubject {
  readonly operation: string;
  readonly outcome: NotificationOutcome;
  readonly userName: string;
  /** The virtual path, starting with `/`; absent for events about no file. */
  readonly path?: string;
}

export type CompiledFilter = (subject: FilterSubject) => boolean;

/**
 * The filter as one predicate, its globs compiled once: a reaction calls this per rule and
 * reuses the predicate for every event.
 */
export function compileFilter(filter: NotificationFilter): CompiledFilter {
  const operations = filter.operations && new Set(filter.operations);
  const outcomes = filter.outcomes && new Set(filter.outcomes);
  const users = filter.users && new Set(filter.users.map(foldCase));
  const paths = filter.paths?.map((glob) => picomatch(glob, { dot: true }));
  return (subject) =>
    (!operations || operations.has(subject.operation)) &&
    (!outcomes || outcomes.has(subject.outcome)) &&
    (!users || users.has(foldCase(subject.userName))) &&
    (!paths || (subject.path !== undefined && paths.some((matches) => matches(subject.path!))));
}

/** Whether the event described by `subject` passes `filter` (compiles it each call; see compileFilter). */
export function matchesFilter(filter: NotificationFilter, subject: FilterSubject): boolean {
  return compileFilter(filter)(subject);
}
