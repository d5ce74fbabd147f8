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
 * A batch is written with one multi-row INSERT (`unnest` of one array per column), prepared
 * (rows and arrays built) while the runner still writes the batch before.
 */
import type { RecordedDomainEvent } from '../../domain/events/catalogue.js';

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

export interface Row {
  global_position: number;
  at: string;
  event_type: string;
  operation: AuditOperation;
  outcome: AuditOutcome;
  user_id: number | null;
  /** Set when the event itself names the user (failed sign-ins, user creation). */
  user_name: string | null;
  application_id: number | null;
  session_id: string | null;
  client_ip: string | null;
  user_string: string | null;
  protocol: string | null;
  path: string | null;
  previous_path: string | null;
  size: number | null;
  sha256: string | null;
  reason: string | null;
  target: string | null;
  detail: string | null;
}

const json = (value: Record<string, unknown>): string => JSON.stringify(value);

/** Sets an event's own fields on its row (one function for all rows, not a closure per row). */
const fill = (row: Row, fields: Partial<Row>): Row => Object.assign(row, fields);

/** The audit row of one event, or undefined when the event is not auditable. */
export function auditRow(event: RecordedDomainEvent): Row | undefined {
  const actor = event.metadata.actor;
  const row: Row = {
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
  };
  switch (event.type) {
    case 'SessionOpened': {
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
    }
    case 'SignInFailed': {
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
    }
    case 'SignInBanned':
      return fill(row, {
        operation: 'signin.ban',
        target: `${event.data.scope}:${event.data.key}`,
        detail: json({
          failures: event.data.failures,
          banNumber: event.data.banNumber,
          until: event.data.until,
        }),
      });
    case 'SignInBanLifted':
      return fill(row, {
        operation: 'signin.unban',
        target: `${event.data.scope}:${event.data.key}`,
        detail: json({ liftedBy: event.data.liftedBy }),
      });
    case 'SignInAttemptsRefused':
      return fill(row, {
        operation: 'signin.refused',
        outcome: 'failure',
        reason: 'banned',
        target: `${event.data.scope}:${event.data.key}`,
        detail: json({ count: event.data.count, from: event.data.from, to: event.data.to }),
      });
    case 'SignInFailuresSummarized':
      return fill(row, {
        operation: 'signin.failures',
        outcome: 'failure',
        reason: event.data.reason,
        detail: json({ count: event.data.count, from: event.data.from, to: event.data.to }),
      });
    case 'SessionReused': {
      const d = event.data;
      return fill(row, {
        operation: 'session.reuse',
        user_id: d.userId,
        application_id: d.applicationId,
        session_id: d.sessionId,
        client_ip: d.clientIp,
        detail: json({ method: d.method, clientVersion: d.clientVersion }),
      });
    }
    case 'SessionReplaced':
      return fill(row, {
        operation: 'session.replace',
        user_id: event.data.userId,
        application_id: event.data.applicationId,
        session_id: event.data.sessionId,
        reason: 'replaced',
        target: `session:${event.data.replacedBy}`,
      });
    case 'SessionClosed':
      return fill(row, {
        operation: 'session.close',
        user_id: event.data.userId,
        application_id: actor.sessionId === event.data.sessionId ? (actor.applicationId ?? null) : null,
        session_id: event.data.sessionId,
        reason: event.data.reason,
        detail: json({ closedBy: event.data.closedBy }),
      });
    case 'SessionExpired':
      return fill(row, {
        operation: 'session.expire',
        user_id: event.data.userId,
        application_id: null,
        session_id: event.data.sessionId,
        client_ip: null,
        reason: event.data.cause === 'idle' ? 'idle' : 'expired',
      });
    case 'ConnectionOpened': {
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
    }
    case 'ConnectionClosed': {
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
    }
    case 'ConnectionRefused': {
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
    }
    case 'ConnectionAttemptsSummarized': {
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
    }
    case 'UserCreated':
      return fill(row, {
        operation: 'user.create',
        target: `user:${event.data.userId}`,
        detail: json({
          userName: event.data.userName,
          rights: event.data.rights,
          createdBy: event.data.createdBy,
        }),
      });
    case 'UserUpdated':
      return fill(row, {
        operation: 'user.update',
        target: `user:${event.data.userId}`,
        detail: json({
          changed: Object.keys(event.data.changes),
          ...(event.data.changes.rights ? { rights: event.data.changes.rights } : {}),
        }),
      });
    case 'UserPasswordChanged':
      return fill(row, { operation: 'user.password', target: `user:${event.data.userId}` });
    case 'UserDisabled':
      return fill(row, { operation: 'user.disable', target: `user:${event.data.userId}` });
    case 'UserEnabled':
      return fill(row, { operation: 'user.enable', target: `user:${event.data.userId}` });
    case 'UserDeleted':
      return fill(row, { operation: 'user.delete', target: `user:${event.data.userId}` });
    case 'UserKeyAdded':
      return fill(row, {
        operation: 'user.key-add',
        target: `user:${event.data.userId}`,
        detail: json({ fingerprint: event.data.fingerprint, algorithm: event.data.algorithm }),
      });
    case 'UserKeyRemoved':
      return fill(row, {
        operation: 'user.key-remove',
        target: `user:${event.data.userId}`,
        detail: json({ fingerprint: event.data.fingerprint }),
      });
    case 'ApplicationRegistered':
      return fill(row, {
        operation: 'application.register',
        target: `application:${event.data.applicationId}`,
        detail: json({ name: event.data.name }),
      });
    case 'ApplicationEnabledChanged':
      return fill(row, {
        operation: event.data.enabled ? 'application.enable' : 'application.disable',
        target: `application:${event.data.applicationId}`,
      });
    case 'FileUploaded':
      return fill(row, {
        operation: 'file.upload',
        protocol: event.data.protocol,
        path: event.data.path,
        size: event.data.size,
        sha256: event.data.sha256,
        detail: event.data.overwrote ? json({ overwrote: true }) : null,
      });
    case 'DownloadStarted':
      return fill(row, {
        operation: 'file.download-start',
        outcome: 'started',
        protocol: event.data.protocol,
        path: event.data.path,
        size: event.data.size,
        detail: event.data.offset === 0 ? null : json({ offset: event.data.offset }),
      });
    case 'FileDownloaded':
      return fill(row, {
        operation: 'file.download',
        protocol: event.data.protocol,
        path: event.data.path,
        size: event.data.bytesSent,
        sha256: event.data.sha256,
        detail: event.data.whole ? null : json({ whole: false, offset: event.data.offset }),
      });
    case 'FileDeleted':
      return fill(row, {
        operation: 'file.delete',
        protocol: event.data.protocol,
        path: event.data.path,
        size: event.data.size,
      });
    case 'FileRenamed':
      return fill(row, {
        operation: 'file.rename',
        protocol: event.data.protocol,
        path: event.data.to,
        previous_path: event.data.from,
        detail: event.data.overwrote ? json({ overwrote: true }) : null,
      });
    case 'DirectoryCreated':
      return fill(row, {
        operation: 'directory.create',
        protocol: event.data.protocol,
        path: event.data.path,
      });
    case 'DirectoryRemoved':
      return fill(row, {
        operation: 'directory.remove',
        protocol: event.data.protocol,
        path: event.data.path,
      });
    case 'FileAttributesChanged':
      return fill(row, {
        operation: 'file.setstat',
        protocol: event.data.protocol,
        path: event.data.path,
        detail: json({ modifiedAt: event.data.modifiedAt, accessedAt: event.data.accessedAt }),
      });
    case 'FileChangeUndone':
      return fill(row, {
        operation: fileOperation[event.data.operation] ?? 'file.stat',
        outcome: 'aborted',
        protocol: event.data.protocol,
        ...(event.data.to === undefined
          ? { path: event.data.path }
          : { path: event.data.to, previous_path: event.data.path }),
        reason: event.data.reason,
      });
    case 'UploadAborted':
      return fill(row, {
        operation: 'file.upload',
        outcome: 'aborted',
        protocol: event.data.protocol,
        path: event.data.path,
        size: event.data.bytesReceived,
        reason: event.data.reason,
      });
    case 'AccessDenied':
      return fill(row, {
        operation: fileOperation[event.data.operation] ?? 'file.stat',
        outcome: 'denied',
        protocol: event.data.protocol,
        path: event.data.path,
        reason: event.data.reason,
        detail: json({ operation: event.data.operation }),
      });
    case 'AuditQueried':
      return fill(row, {
        operation: 'audit.query',
        user_id: event.data.userId,
        target: event.data.query,
        detail: json({ filters: event.data.filters }),
      });
    case 'ServerStarted':
      return fill(row, {
        operation: 'server.start',
        detail: json({
          instanceId: event.data.instanceId,
          version: event.data.version,
          hostname: event.data.hostname,
          pid: event.data.pid,
          ...(event.data.configuration ? { configuration: event.data.configuration } : {}),
        }),
      });
    case 'ServerStopped':
      return fill(row, {
        operation: 'server.stop',
        reason: event.data.reason,
        detail: json({ instanceId: event.data.instanceId }),
      });
    case 'TreeHeadSigned': {
      const { treeSize, lastPosition, rootHash, timestamp, keyId, signature } = event.data;
      return fill(row, {
        operation: 'log.tree-head',
        detail: json({ treeSize, lastPosition, rootHash, timestamp, keyId, signature }),
      });
    }
    case 'FlowDefined':
      return fill(row, {
        operation: 'flow.define',
        target: `flow:${event.data.flowId}`,
        path: event.data.sourceFolder,
        detail: json({
          name: event.data.name,
          sourceUserId: event.data.sourceUserId,
          target: event.data.target,
        }),
      });
    case 'FlowRemoved':
      return fill(row, { operation: 'flow.remove', target: `flow:${event.data.flowId}` });
    case 'NotifierDefined':
      return fill(row, {
        operation: 'notifier.define',
        target: `notifier:${event.data.notifierId}`,
        detail: json({ name: event.data.name, channel: event.data.channel.kind, filter: event.data.filter }),
      });
    case 'NotifierRemoved':
      return fill(row, { operation: 'notifier.remove', target: `notifier:${event.data.notifierId}` });
    case 'DeliveryScheduled': {
      const { file, kind, ownerId, cause } = event.data;
      return fill(row, {
        operation: 'delivery.schedule',
        target: `delivery:${event.data.deliveryId}`,
        ...(file ? { user_id: file.userId, path: file.path, size: file.size, sha256: file.sha256 } : {}),
        detail: json({ kind, ownerId, causePosition: cause.position, causeType: cause.type }),
      });
    }
    case 'DeliveryAttempted':
      return fill(row, {
        operation: 'delivery.attempt',
        outcome: 'started',
        target: `delivery:${event.data.deliveryId}`,
        detail: json({ attempt: event.data.attempt, leaseUntil: event.data.leaseUntil }),
      });
    case 'DeliveryAttemptFailed':
      return fill(row, {
        operation: 'delivery.attempt',
        outcome: 'failure',
        target: `delivery:${event.data.deliveryId}`,
        reason: event.data.error,
        detail: json({
          attempt: event.data.attempt,
          retryable: event.data.retryable,
          retryAt: event.data.retryAt,
        }),
      });
    case 'DeliverySucceeded':
      return fill(row, {
        operation: 'delivery.attempt',
        target: `delivery:${event.data.deliveryId}`,
        detail: json({ attempt: event.data.attempt, result: event.data.result }),
      });
    case 'DeliveryDeadLettered':
      return fill(row, {
        operation: 'delivery.dead-letter',
        outcome: 'failure',
        target: `delivery:${event.data.deliveryId}`,
        reason: event.data.reason,
        detail: json({ attempts: event.data.attempts }),
      });
    case 'DeliveryRequeued':
      return fill(row, { operation: 'delivery.requeue', target: `delivery:${event.data.deliveryId}` });
    case 'UploadScanned': {
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
    }
    default:
      return undefined;
  }
}
