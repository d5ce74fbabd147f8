/**
 * What happens to files and connections, from any protocol. Who did it (user, application,
 * session, client address and port, the session's userString) is in each event's metadata
 * actor; the data says what happened. Paths are virtual: absolute within the user's root.
 */
import { Type } from '@sinclair/typebox';
import { eventSchema, IpAddress, Text, Timestamp, UserId, Uuid } from './schema-helpers.js';

/** `flow`: Sluice itself, moving a file for a flow (docs/flows.md). */
export const Protocol = Type.Union([
  Type.Literal('sftp'),
  Type.Literal('http'),
  Type.Literal('ftps'),
  Type.Literal('flow'),
]);
export const VirtualPath = Text(4096, 1);
const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$' });
const Bytes = Type.Integer({ minimum: 0 });

export const FileOperation = Type.Union(
  [
    'list',
    'download',
    'upload',
    'overwrite',
    'delete',
    'rename',
    'mkdir',
    'rmdir',
    'setstat',
    'symlink',
    'link',
    'stat',
  ].map((o) => Type.Literal(o)),
);

export const FileUploaded = eventSchema('FileUploaded', {
  protocol: Protocol,
  path: VirtualPath,
  size: Bytes,
  sha256: Sha256,
  /** An earlier file of that name was replaced. */
  overwrote: Type.Boolean(),
});

export const FileDownloaded = eventSchema('FileDownloaded', {
  protocol: Protocol,
  path: VirtualPath,
  bytesSent: Bytes,
  /** The whole file was read, start to end; otherwise a range (resume, partial read). */
  whole: Type.Boolean(),
  /** First byte sent (0 for whole files). */
  offset: Bytes,
  /** Of the whole file, when it was read whole. */
  sha256: Type.Union([Sha256, Type.Null()]),
});

/**
 * A download's first byte is about to be sent: recorded (durable) before any is, on the
 * download's own stream, where FileDownloaded later records how it ended. A download cut short
 * by a crash leaves this record alone: started, never finished.
 */
export const DownloadStarted = eventSchema('DownloadStarted', {
  protocol: Protocol,
  path: VirtualPath,
  /** The file's size when it was opened. */
  size: Bytes,
  /** Where the first read asked to start. */
  offset: Bytes,
});

export const FileDeleted = eventSchema('FileDeleted', {
  protocol: Protocol,
  path: VirtualPath,
  size: Type.Union([Bytes, Type.Null()]),
});

export const FileRenamed = eventSchema('FileRenamed', {
  protocol: Protocol,
  from: VirtualPath,
  to: VirtualPath,
  /** posix-rename may replace an existing target; plain SFTP RENAME never does. */
  overwrote: Type.Boolean(),
});

export const DirectoryCreated = eventSchema('DirectoryCreated', { protocol: Protocol, path: VirtualPath });
export const DirectoryRemoved = eventSchema('DirectoryRemoved', { protocol: Protocol, path: VirtualPath });

/** SETSTAT/FSETSTAT changed a file's (or folder's) times; permission bits and owners are never applied. */
export const FileAttributesChanged = eventSchema('FileAttributesChanged', {
  protocol: Protocol,
  path: VirtualPath,
  modifiedAt: Timestamp,
  accessedAt: Timestamp,
});

/** The kinds of change made through an intent (docs/recording.md). */
export const ChangeKind = Type.Union(
  ['delete', 'rename', 'mkdir', 'rmdir', 'setstat'].map((k) => Type.Literal(k)),
);

/**
 * A change begun but never recorded done (the server stopped, or its event could not be
 * appended) was put back as it was. Exactly one of this and the change's own event is ever
 * recorded in the change's stream.
 */
export const FileChangeUndone = eventSchema('FileChangeUndone', {
  protocol: Protocol,
  operation: ChangeKind,
  /** The path changed (a rename's source). */
  path: VirtualPath,
  /** A rename's target. */
  to: Type.Optional(VirtualPath),
  reason: Text(200, 1),
});

export const UploadAborted = eventSchema('UploadAborted', {
  protocol: Protocol,
  path: VirtualPath,
  bytesReceived: Bytes,
  reason: Text(200, 1),
});

export const AccessDenied = eventSchema('AccessDenied', {
  protocol: Protocol,
  operation: FileOperation,
  /** As the client sent it (possibly hostile), cut to 4096 characters, control characters escaped. */
  path: Text(4096),
  reason: Text(200, 1),
});

/** What ConnectionOpened and ConnectionRefused both say of a signed-in connection. */
const connectionFacts = {
  connectionId: Uuid,
  protocol: Protocol,
  sessionId: Uuid,
  userId: UserId,
  remoteAddress: IpAddress,
  remotePort: Type.Integer({ minimum: 0, maximum: 65535 }),
  clientSoftware: Text(255),
};

export const ConnectionOpened = eventSchema('ConnectionOpened', {
  ...connectionFacts,
  authMethod: Type.Union([Type.Literal('password'), Type.Literal('public-key')]),
  keyFingerprint: Type.Union([Text(100, 10), Type.Null()]),
});

export const ConnectionClosed = eventSchema('ConnectionClosed', {
  connectionId: Uuid,
  protocol: Protocol,
  sessionId: Uuid,
  userId: UserId,
  reason: Text(200, 1),
  bytesIn: Bytes,
  bytesOut: Bytes,
  durationMs: Bytes,
});

/**
 * A signed-in connection refused before it served anything: the user's connection limit was
 * reached, or the user or session changed while it signed in.
 */
export const ConnectionRefused = eventSchema('ConnectionRefused', {
  ...connectionFacts,
  reason: Text(200, 1),
});

/** Why a connection ended before its client signed in. */
export const AttemptOutcomes = Type.Object(
  {
    /** Not signed in within the authentication timeout: cut. */
    timeout: Bytes,
    /** Closed at once: too many unauthenticated connections in all, or from the address. */
    refused: Bytes,
    /** The client went away (after failed sign-ins, a failed key exchange, or none at all). */
    closed: Bytes,
  },
  { additionalProperties: false },
);

/**
 * Connections that ended before signing in, summed per source address over a period (failed
 * sign-ins inside them are recorded one by one as SignInFailed). The busiest addresses get a
 * row each; the rest share one with `remoteAddress` null, so a flood adds a bounded number of
 * events per period.
 */
export const ConnectionAttemptsSummarized = eventSchema('ConnectionAttemptsSummarized', {
  protocol: Protocol,
  remoteAddress: Type.Union([IpAddress, Type.Null()]),
  /** How many source addresses the row sums (1 unless `remoteAddress` is null). */
  addresses: Type.Integer({ minimum: 1 }),
  count: Type.Integer({ minimum: 1 }),
  outcomes: AttemptOutcomes,
  from: Timestamp,
  to: Timestamp,
});

/** One stream per recorded file fact (an upload, a change through an intent, a denial). */
export const fileStream = (id: string) => `file-${id}`;

/** One stream per summary of connections that ended before signing in. */
export const connectionAttemptsStream = (summaryId: string) => `connection-attempts-${summaryId}`;

/** One stream per authenticated connection: opened, then closed. */
export const connectionStream = (connectionId: string) => `connection-${connectionId}`;
