/**
 * The `audit` view: one row per auditable event (sign-ins and their failures, session ends,
 * connections, user and application changes, every file operation, denials, aborted uploads,
 * audit reads, server starts and stops), keyed by global position and never updated, so a
 * query bounded by a position answers exactly as the log stood then.
 *
 * Who and where come from the event's metadata actor, except for session and connection
 * events, whose data names the session's own user, session and address. Names come from the
 * view's own `audit_names` table (filled from UserCreated and failed sign-ins), so a rebuild
 * gives the same rows whatever other views hold.
 *
 * `at` is when the event was recorded, raised where needed to the time of the row before it,
 * so it never decreases with the position (clocks can step back, and concurrent appends can
 * record their times a little out of position order): a time window is then exactly one range
 * of positions, which every keyset index can scan.
 *
 * Each audited event type has its mapper (`mappers`), and the projection handles exactly the
 * mapped types; the catalogue's other types are listed with the reason they are left out
 * (`unauditedEventTypes`), so adding an event type means deciding, and adding a mapper is all
 * it takes to audit it.
 *
 * A batch is written with one multi-row INSERT (`unnest` of one array per column), prepared
 * (rows and arrays built) while the runner still writes the batch before.
 */
import type { InsertType } from 'kysely';
import type { AuditEventsTable } from '../../adapters/readmodel/schema.js';
import type { DomainEventType, RecordedDomainEvent } from '../../domain/events/catalogue.js';

export const auditOperations = [
  'session.open',
  'session.reuse',
  'session.replace',
  'session.close',
  'session.expire',
  'signin.ban',
  'signin.unban',
  'signin.refused',
  'signin.failures',
  'connection.open',
  'connection.close',
  'connection.attempts',
  'connection.refuse',
  'user.create',
  'user.update',
  'user.password',
  'user.disable',
  'user.enable',
  'user.delete',
  'user.key-add',
  'user.key-remove',
  'application.register',
  'application.enable',
  'application.disable',
  'file.upload',
  'file.download',
  'file.download-start',
  'file.delete',
  'file.rename',
  'file.list',
  'file.stat',
  'file.setstat',
  'file.symlink',
  'file.link',
  'directory.create',
  'directory.remove',
  'audit.query',
  'server.start',
  'server.stop',
  'log.tree-head',
  'flow.define',
  'flow.remove',
  'notifier.define',
  'notifier.remove',
  'delivery.schedule',
  'delivery.attempt',
  'delivery.dead-letter',
  'delivery.requeue',
  'file.scan',
] as const;
export type AuditOperation = (typeof auditOperations)[number];

export const auditOutcomes = ['success', 'failure', 'denied', 'aborted', 'started'] as const;
export type AuditOutcome = (typeof auditOutcomes)[number];

/** The audit operation of a file operation (AccessDenied's and FileChangeUndone's `operation`). */
const fileOperation: Record<string, AuditOperation> = {
  list: 'file.list',
  download: 'file.download',
  upload: 'file.upload',
  overwrite: 'file.upload',
  delete: 'file.delete',
  rename: 'file.rename',
  mkdir: 'directory.create',
  rmdir: 'directory.remove',
  setstat: 'file.setstat',
  symlink: 'file.symlink',
  link: 'file.link',
  stat: 'file.stat',
};

/**
 * The write's narrower types for the columns where the table takes more: positions and sizes as
 * numbers, times as ISO 8601 UTC strings (raised by comparing them as strings), operations and
 * outcomes from their lists.
 */
interface Narrowed {
  global_position: number;
  at: string;
  operation: AuditOperation;
  outcome: AuditOutcome;
  size: number | null;
}

/**
 * An audit row as the write builds it: every column of the table (schema.ts) but the folded
 * name, which the INSERT computes, each required and of the type the table accepts, narrowed
 * where `Narrowed` says (a narrowing the table would not accept leaves the column `never`).
 * `user_name` is set only when the event itself names the user (failed sign-ins); the INSERT
 * fills in the rest.
 */
export type Row = {
  -readonly [K in Exclude<keyof AuditEventsTable, 'user_name_folded'>]-?: K extends keyof Narrowed
    ? Narrowed[K] extends InsertType<AuditEventsTable[K]>
      ? Narrowed[K]
      : never
    : InsertType<AuditEventsTable[K]>;
};

const json = (value: Record<string, unknown>): string => JSON.stringify(value);

/** Sets an event's own fields on its row (one function for all rows, not a closure per row). */
const fill = (row: Row, fields: Partial<Row>): Row => Object.assign(row, fields);

/** A recorded event of one type. */
type Recorded<K extends DomainEventType> = Extract<RecordedDomainEvent, { type: K }>;

/** How an event's own fields fill its row, which starts with the actor's who and where. */
type Mapper<K extends DomainEventType> = (row: Row, event: Recorded<K>) => Row;

/**
 * The audit mapping, one mapper per audited event type. The projection handles exactly these
 * types (`auditedEventTypes`); every other type of the catalogue must be named in
 * `unauditedEventTypes` below with its reason, or the code does not compile.
 */
const mappers = {
  SessionOpened: (row, event) => {
    const d = event.data;
    return fill(row, {
      operation: 'session.open',
      user_id: d.userId,
      application_id: d.applicationId,
      session_id: d.sessionId,
      client_ip: d.clientIp,
      user_string: d.userString,
      detail: json({
        kind: d.kind,
        method: d.method,
        clientVersion: d.clientVersion,
        ...(d.impersonator ? { impersonator: d.impersonator } : {}),
        ...(d.callerIp === d.clientIp ? {} : { callerIp: d.callerIp }),
      }),
    });
  },
  SignInFailed: (row, event) => {
    const d = event.data;
    return fill(row, {
      operation: 'session.open',
      outcome: 'failure',
      user_id: d.userId,
      user_name: d.userName,
      application_id: d.applicationId,
      client_ip: d.clientIp,
      reason: d.reason,
      detail: json({ method: d.method, clientVersion: d.clientVersion }),
    });
  },
  SignInBanned: (row, event) =>
    fill(row, {
      operation: 'signin.ban',
      target: `${event.data.scope}:${event.data.key}`,
      detail: json({
        failures: event.data.failures,
        banNumber: event.data.banNumber,
        until: event.data.until,
      }),
    }),
  SignInBanLifted: (row, event) =>
    fill(row, {
      operation: 'signin.unban',
      target: `${event.data.scope}:${event.data.key}`,
      detail: json({ liftedBy: event.data.liftedBy }),
    }),
  SignInAttemptsRefused: (row, event) =>
    fill(row, {
      operation: 'signin.refused',
      outcome: 'failure',
      reason: 'banned',
      target: `${event.data.scope}:${event.data.key}`,
      detail: json({ count: event.data.count, from: event.data.from, to: event.data.to }),
    }),
  SignInFailuresSummarized: (row, event) =>
    fill(row, {
      operation: 'signin.failures',
      outcome: 'failure',
      reason: event.data.reason,
      detail: json({ count: event.data.count, from: event.data.from, to: event.data.to }),
    }),
  SessionReused: (row, event) => {
    const d = event.data;
    return fill(row, {
      operation: 'session.reuse',
      user_id: d.userId,
      application_id: d.applicationId,
      session_id: d.sessionId,
      client_ip: d.clientIp,
      detail: json({ method: d.method, clientVersion: d.clientVersion }),
    });
  },
  SessionReplaced: (row, event) =>
    fill(row, {
      operation: 'session.replace',
      user_id: event.data.userId,
      application_id: event.data.applicationId,
      session_id: event.data.sessionId,
      reason: 'replaced',
      target: `session:${event.data.replacedBy}`,
    }),
  SessionClosed: (row, event) =>
    fill(row, {
      operation: 'session.close',
      user_id: event.data.userId,
      application_id:
        event.metadata.actor.sessionId === event.data.sessionId
          ? (event.metadata.actor.applicationId ?? null)
          : null,
      session_id: event.data.sessionId,
      reason: event.data.reason,
      detail: json({ closedBy: event.data.closedBy }),
    }),
  SessionExpired: (row, event) =>
    fill(row, {
      operation: 'session.expire',
      user_id: event.data.userId,
      application_id: null,
      session_id: event.data.sessionId,
      client_ip: null,
      reason: event.data.cause === 'idle' ? 'idle' : 'expired',
    }),
  ConnectionOpened: (row, event) => {
    const d = event.data;
    return fill(row, {
      operation: 'connection.open',
      user_id: d.userId,
      session_id: d.sessionId,
      client_ip: d.remoteAddress,
      protocol: d.protocol,
      detail: json({
        connectionId: d.connectionId,
        remotePort: d.remotePort,
        clientSoftware: d.clientSoftware,
        authMethod: d.authMethod,
        keyFingerprint: d.keyFingerprint,
      }),
    });
  },
  ConnectionClosed: (row, event) => {
    const d = event.data;
    return fill(row, {
      operation: 'connection.close',
      user_id: d.userId,
      session_id: d.sessionId,
      protocol: d.protocol,
      reason: d.reason,
      detail: json({
        connectionId: d.connectionId,
        bytesIn: d.bytesIn,
        bytesOut: d.bytesOut,
        durationMs: d.durationMs,
      }),
    });
  },
  ConnectionRefused: (row, event) => {
    const d = event.data;
    return fill(row, {
      operation: 'connection.refuse',
      outcome: 'failure',
      user_id: d.userId,
      session_id: d.sessionId,
      client_ip: d.remoteAddress,
      protocol: d.protocol,
      reason: d.reason,
      detail: json({
        connectionId: d.connectionId,
        remotePort: d.remotePort,
        clientSoftware: d.clientSoftware,
      }),
    });
  },
  ConnectionAttemptsSummarized: (row, event) => {
    const d = event.data;
    return fill(row, {
      operation: 'connection.attempts',
      outcome: 'failure',
      reason: 'not-signed-in',
      client_ip: d.remoteAddress,
      protocol: d.protocol,
      detail: json({
        count: d.count,
        addresses: d.addresses,
        outcomes: d.outcomes,
        from: d.from,
        to: d.to,
      }),
    });
  },
  UserCreated: (row, event) =>
    fill(row, {
      operation: 'user.create',
      target: `user:${event.data.userId}`,
      detail: json({
        userName: event.data.userName,
        rights: event.data.rights,
        createdBy: event.data.createdBy,
      }),
    }),
  UserUpdated: (row, event) =>
    fill(row, {
      operation: 'user.update',
      target: `user:${event.data.userId}`,
      detail: json({
        changed: Object.keys(event.data.changes),
        ...(event.data.changes.rights ? { rights: event.data.changes.rights } : {}),
      }),
    }),
  UserPasswordChanged: (row, event) =>
    fill(row, { operation: 'user.password', target: `user:${event.data.userId}` }),
  UserDisabled: (row, event) => fill(row, { operation: 'user.disable', target: `user:${event.data.userId}` }),
  UserEnabled: (row, event) => fill(row, { operation: 'user.enable', target: `user:${event.data.userId}` }),
  UserDeleted: (row, event) => fill(row, { operation: 'user.delete', target: `user:${event.data.userId}` }),
  UserKeyAdded: (row, event) =>
    fill(row, {
      operation: 'user.key-add',
      target: `user:${event.data.userId}`,
      detail: json({ fingerprint: event.data.fingerprint, algorithm: event.data.algorithm }),
    }),
  UserKeyRemoved: (row, event) =>
    fill(row, {
      operation: 'user.key-remove',
      target: `user:${event.data.userId}`,
      detail: json({ fingerprint: event.data.fingerprint }),
    }),
  ApplicationRegistered: (row, event) =>
    fill(row, {
      operation: 'application.register',
      target: `application:${event.data.applicationId}`,
      detail: json({ name: event.data.name }),
    }),
  ApplicationEnabledChanged: (row, event) =>
    fill(row, {
      operation: event.data.enabled ? 'application.enable' : 'application.disable',
      target: `application:${event.data.applicationId}`,
    }),
  FileUploaded: (row, event) =>
    fill(row, {
      operation: 'file.upload',
      protocol: event.data.protocol,
      path: event.data.path,
      size: event.data.size,
      sha256: event.data.sha256,
      detail: event.data.overwrote ? json({ overwrote: true }) : null,
    }),
  DownloadStarted: (row, event) =>
    fill(row, {
      operation: 'file.download-start',
      outcome: 'started',
      protocol: event.data.protocol,
      path: event.data.path,
      size: event.data.size,
      detail: event.data.offset === 0 ? null : json({ offset: event.data.offset }),
    }),
  FileDownloaded: (row, event) =>
    fill(row, {
      operation: 'file.download',
      protocol: event.data.protocol,
      path: event.data.path,
      size: event.data.bytesSent,
      sha256: event.data.sha256,
      detail: event.data.whole ? null : json({ whole: false, offset: event.data.offset }),
    }),
  FileDeleted: (row, event) =>
    fill(row, {
      operation: 'file.delete',
      protocol: event.data.protocol,
      path: event.data.path,
      size: event.data.size,
    }),
  FileRenamed: (row, event) =>
    fill(row, {
      operation: 'file.rename',
      protocol: event.data.protocol,
      path: event.data.to,
      previous_path: event.data.from,
      detail: event.data.overwrote ? json({ overwrote: true }) : null,
    }),
  DirectoryCreated: (row, event) =>
    fill(row, {
      operation: 'directory.create',
      protocol: event.data.protocol,
      path: event.data.path,
    }),
  DirectoryRemoved: (row, event) =>
    fill(row, {
      operation: 'directory.remove',
      protocol: event.data.protocol,
      path: event.data.path,
    }),
  FileAttributesChanged: (row, event) =>
    fill(row, {
      operation: 'file.setstat',
      protocol: event.data.protocol,
      path: event.data.path,
      detail: json({ modifiedAt: event.data.modifiedAt, accessedAt: event.data.accessedAt }),
    }),
  FileChangeUndone: (row, event) =>
    fill(row, {
      operation: fileOperation[event.data.operation] ?? 'file.stat',
      outcome: 'aborted',
      protocol: event.data.protocol,
      ...(event.data.to === undefined
        ? { path: event.data.path }
        : { path: event.data.to, previous_path: event.data.path }),
      reason: event.data.reason,
    }),
  UploadAborted: (row, event) =>
    fill(row, {
      operation: 'file.upload',
      outcome: 'aborted',
      protocol: event.data.protocol,
      path: event.data.path,
      size: event.data.bytesReceived,
      reason: event.data.reason,
    }),
  AccessDenied: (row, event) =>
    fill(row, {
      operation: fileOperation[event.data.operation] ?? 'file.stat',
      outcome: 'denied',
      protocol: event.data.protocol,
      path: event.data.path,
      reason: event.data.reason,
      detail: json({ operation: event.data.operation }),
    }),
  AuditQueried: (row, event) =>
    fill(row, {
      operation: 'audit.query',
      user_id: event.data.userId,
      target: event.data.query,
      detail: json({ filters: event.data.filters }),
    }),
  ServerStarted: (row, event) =>
    fill(row, {
      operation: 'server.start',
      detail: json({
        instanceId: event.data.instanceId,
        version: event.data.version,
        hostname: event.data.hostname,
        pid: event.data.pid,
        ...(event.data.configuration ? { configuration: event.data.configuration } : {}),
      }),
    }),
  ServerStopped: (row, event) =>
    fill(row, {
      operation: 'server.stop',
      reason: event.data.reason,
      detail: json({ instanceId: event.data.instanceId }),
    }),
  TreeHeadSigned: (row, event) => {
    const { treeSize, lastPosition, rootHash, timestamp, keyId, signature } = event.data;
    return fill(row, {
      operation: 'log.tree-head',
      detail: json({ treeSize, lastPosition, rootHash, timestamp, keyId, signature }),
    });
  },
  FlowDefined: (row, event) =>
    fill(row, {
      operation: 'flow.define',
      target: `flow:${event.data.flowId}`,
      path: event.data.sourceFolder,
      detail: json({
        name: event.data.name,
        sourceUserId: event.data.sourceUserId,
        target: event.data.target,
      }),
    }),
  FlowRemoved: (row, event) => fill(row, { operation: 'flow.remove', target: `flow:${event.data.flowId}` }),
  NotifierDefined: (row, event) =>
    fill(row, {
      operation: 'notifier.define',
      target: `notifier:${event.data.notifierId}`,
      detail: json({ name: event.data.name, channel: event.data.channel.kind, filter: event.data.filter }),
    }),
  NotifierRemoved: (row, event) =>
    fill(row, { operation: 'notifier.remove', target: `notifier:${event.data.notifierId}` }),
  DeliveryScheduled: (row, event) => {
    const { file, kind, ownerId, cause } = event.data;
    return fill(row, {
      operation: 'delivery.schedule',
      target: `delivery:${event.data.deliveryId}`,
      ...(file ? { user_id: file.userId, path: file.path, size: file.size, sha256: file.sha256 } : {}),
      detail: json({ kind, ownerId, causePosition: cause.position, causeType: cause.type }),
    });
  },
  DeliveryAttempted: (row, event) =>
    fill(row, {
      operation: 'delivery.attempt',
      outcome: 'started',
      target: `delivery:${event.data.deliveryId}`,
      detail: json({ attempt: event.data.attempt, leaseUntil: event.data.leaseUntil }),
    }),
  DeliveryAttemptFailed: (row, event) =>
    fill(row, {
      operation: 'delivery.attempt',
      outcome: 'failure',
      target: `delivery:${event.data.deliveryId}`,
      reason: event.data.error,
      detail: json({
        attempt: event.data.attempt,
        retryable: event.data.retryable,
        retryAt: event.data.retryAt,
      }),
    }),
  DeliverySucceeded: (row, event) =>
    fill(row, {
      operation: 'delivery.attempt',
      target: `delivery:${event.data.deliveryId}`,
      detail: json({ attempt: event.data.attempt, result: event.data.result }),
    }),
  DeliveryDeadLettered: (row, event) =>
    fill(row, {
      operation: 'delivery.dead-letter',
      outcome: 'failure',
      target: `delivery:${event.data.deliveryId}`,
      reason: event.data.reason,
      detail: json({ attempts: event.data.attempts }),
    }),
  DeliveryRequeued: (row, event) =>
    fill(row, { operation: 'delivery.requeue', target: `delivery:${event.data.deliveryId}` }),
  UploadScanned: (row, event) => {
    const { file, verdict, reason, quarantinedAs } = event.data;
    return fill(row, {
      operation: 'file.scan',
      outcome: verdict === 'clean' ? 'success' : 'denied',
      user_id: file.userId,
      path: file.path,
      size: file.size,
      sha256: file.sha256,
      reason: reason === '' ? null : reason,
      target: `delivery:${event.data.deliveryId}`,
      detail: quarantinedAs === null ? null : json({ quarantinedAs }),
    });
  },
} satisfies { readonly [K in DomainEventType]?: Mapper<K> };

/** The event types the audit view has rows for: its projection's `handles`. */
export const auditedEventTypes = Object.keys(mappers) as (keyof typeof mappers)[];

/**
 * The catalogue's types the audit view leaves out on purpose, each with its reason: steps that
 * an audited event of the same command records as one fact. A new event type is either mapped
 * above or named here (the compiler asks for one or the other, never both).
 */
export const unauditedEventTypes: Readonly<Record<Exclude<DomainEventType, keyof typeof mappers>, string>> = {
  UserIdAllocated: 'the id taken for a user about to be created; UserCreated is the row',
  UniqueValueReserved:
    "a user's name or e-mail address claimed while creating or changing it; UserCreated or UserUpdated is the row",
  UniqueValueReleased:
    "such a claim given back: a changed e-mail address's (UserUpdated is the row), a deleted user's (UserDeleted), a failed creation's (no user, no row)",
  SessionSlotClaimed:
    'the sign-in slot a new session takes; SessionOpened (and SessionReplaced for the holder it ends) are the rows',
  TicketRedeemed:
    "a ticket's one use, recorded before its session opens; SessionOpened (method ticket) is the row, and a replay is a SignInFailed",
};

/** The audit row of one event, or undefined when the event is not auditable. */
export function auditRow(event: RecordedDomainEvent): Row | undefined {
  // One lookup by type. The cast joins the per-type signatures, which `mappers` keeps apart.
  const map = (mappers as Partial<Record<DomainEventType, Mapper<DomainEventType>>>)[event.type];
  if (map === undefined) return undefined;
  const actor = event.metadata.actor;
  return map(
    {
      global_position: event.globalPosition,
      at: event.recordedAt.toISOString(),
      event_type: event.type,
      operation: 'server.start',
      outcome: 'success',
      user_id: actor.userId ?? null,
      user_name: null,
      application_id: actor.applicationId ?? null,
      session_id: actor.sessionId ?? null,
      client_ip: actor.clientIp ?? null,
      user_string: actor.userString ?? null,
      protocol: null,
      path: null,
      previous_path: null,
      size: null,
      sha256: null,
      reason: null,
      target: null,
      detail: null,
    },
    event,
  );
}
