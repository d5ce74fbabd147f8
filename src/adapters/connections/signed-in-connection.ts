/**
 * What every connection-oriented front end (SFTP, FTPS) does once its client has signed in,
 * in one place: take a lease against the user's connection limit (counted across instances),
 * join the registry (so Close, a ban or a change to the user cuts it), and record
 * ConnectionOpened — or ConnectionRefused when the limit or a change during sign-in refuses it.
 */
import type { Logger } from 'pino';
import type { Connections, OpenConnection } from '../../application/connections.js';
import type { FileActor, FileOperations } from '../../application/files/file-operations.js';
import type { ConnectionLeases, IdGenerator, RequestContext } from '../../application/ports.js';
import type { RefusalCounter, RefusalReason } from '../../application/refusals.js';
import type { SignInService } from '../../application/sign-in.js';
import type { ActiveUser } from '../../application/users.js';
import type { ConnectionRegistry } from '../sftp/connection-registry.js';

/** A client that signed in (through SignInService.openSsh). */
export interface SignedIn {
  /** The registry's log position when the sign-in began: later changes cut the connection. */
  readonly since: number;
  readonly sessionId: string;
  readonly user: ActiveUser;
  readonly method: 'password' | 'public-key';
  readonly fingerprint: string | null;
}

/** What a connection-oriented front end (SFTP, FTPS) is built from. */
export interface ProtocolServerDeps {
  readonly signIn: SignInService;
  readonly files: FileOperations;
  readonly registry: ConnectionRegistry;
  readonly connections: Connections;
  /** Each user's connections counted across instances (MFT_SFTP_MAX_CONNECTIONS_PER_USER). */
  readonly leases: ConnectionLeases;
  readonly ids: IdGenerator;
  readonly logger: Logger;
  /** Counts connections refused by a limit (sluice_refusals_total). */
  readonly refused?: RefusalCounter;
}

export interface AdmissionDeps {
  readonly registry: ConnectionRegistry;
  readonly leases: ConnectionLeases;
  readonly connections: Connections;
  readonly refused: RefusalCounter;
  readonly log: Logger;
}

export interface AdmissionRequest {
  readonly connectionId: string;
  readonly protocol: 'sftp' | 'ftps';
  readonly applicationId: number;
  readonly auth: SignedIn;
  readonly context: RequestContext;
  readonly clientSoftware: string;
  readonly maxConnectionsPerUser: number;
  /** Counted when the user's connection limit refuses this one. */
  readonly limitReason: RefusalReason;
  /** Ends the transport (a refusal, or the registry cutting the connection). */
  end(): void;
  /** Calls `listener` once when the transport closes. */
  onClose(listener: () => void): void;
}

export interface Admitted {
  /** The context its events carry: the connection's address with the signed-in actor. */
  readonly actorContext: RequestContext;
  readonly connection: OpenConnection;
  /** Why the connection ended, as the registry said when it cut it (else the client left). */
  closeReason(): string;
}

/** Admits a signed-in connection, or refuses it (recorded, transport ended) and resolves undefined. */
export async function admitSignedIn(
  deps: AdmissionDeps,
  request: AdmissionRequest,
): Promise<Admitted | undefined> {
  const { registry, leases, connections, log } = deps;
  const { connectionId, auth, context } = request;
  const user = auth.user;
  const actorContext: RequestContext = {
    ...context,
    actor: {
      userId: user.userId,
      applicationId: request.applicationId,
      sessionId: auth.sessionId,
      userString: null,
    },
  };
  let closeReason = 'client disconnected';
  // The lease is given back when the connection ends, even if it ends while the lease is taken.
  let ended = false;
  let leased = false;
  const release = () => {
    if (leased)
      leases
        .release(connectionId)
        .catch((error: unknown) => log.error({ err: error }, 'could not release the connection lease'));
  };
  request.onClose(() => {
    ended = true;
    registry.remove(connectionId);
    release();
  });
  // Counted across instances in one transaction per user: of simultaneous sign-ins beyond the
  // limit on any instance, none slips through between the count and the lease.
  leased = await leases.acquire(user.userId, connectionId, request.maxConnectionsPerUser);
  // What ConnectionOpened and ConnectionRefused both say of this connection.
  const facts = {
    connectionId,
    protocol: request.protocol,
    sessionId: auth.sessionId,
    userId: user.userId,
    remoteAddress: context.clientIp,
    remotePort: context.clientPort ?? 0,
    clientSoftware: request.clientSoftware,
  };
  const refuse = (reason: string) =>
    connections
      .refused({ ...facts, reason }, actorContext)
      .catch((error: unknown) => log.error({ err: error }, 'could not record ConnectionRefused'));
  if (!leased) {
    log.info({ userId: user.userId }, 'connection limit per user reached: disconnecting');
    deps.refused(request.limitReason);
    await refuse('connection limit per user reached');
    request.end();
    return undefined;
  }
  if (ended) {
    release();
    return undefined;
  }
  const registered = registry.add(
    {
      connectionId,
      sessionId: auth.sessionId,
      userId: user.userId,
      disconnect: (reason) => {
        closeReason = reason;
        request.end();
      },
    },
    auth.since,
  );
  if (!registered) {
    log.info({ userId: user.userId, reason: closeReason }, 'changed during sign-in: disconnecting');
    await refuse(`${closeReason} during sign-in`);
    return undefined;
  }
  try {
    const connection = await connections.opened(
      { ...facts, authMethod: auth.method, keyFingerprint: auth.fingerprint },
      actorContext,
    );
    return { actorContext, connection, closeReason: () => closeReason };
  } catch (error) {
    registry.remove(connectionId);
    throw error;
  }
}

/** Who works with files on an admitted connection (the core's FileActor). */
export function fileActorOf(request: AdmissionRequest): FileActor {
  const { auth, context } = request;
  const user = auth.user;
  return {
    userId: user.userId,
    userName: user.userName,
    homeFolder: user.homeFolder,
    permissions: user.permissions,
    quotaBytes: user.quotaBytes,
    maxFileBytes: user.maxFileBytes,
    sessionId: auth.sessionId,
    applicationId: request.applicationId,
    userString: null,
    clientIp: context.clientIp,
    ...(context.clientPort === undefined ? {} : { clientPort: context.clientPort }),
    protocol: request.protocol,
    connectionId: request.connectionId,
  };
}
