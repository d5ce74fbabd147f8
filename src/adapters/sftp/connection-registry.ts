/**
 * The SSH connections this process holds, by session: when a session ends anywhere (Close
 * through the API, in this process or another; expiry; the user disabled or deleted), its
 * live connections here are cut, and so are a user's connections when the rules they were
 * signed in under change (rights, permissions, home folder, password, a key removed): the
 * client signs in again under the new ones. It learns of all this from the event log, so no
 * process needs to know another's memory.
 *
 * No change slips between a sign-in and the connection's registration: `add` takes the log
 * position the registry had reached when the sign-in began (`position`), and a connection
 * whose user or session changed after it is cut at once. A failed subscription resumes from
 * the last event it handled (none is skipped); if it cannot resume, every connection is cut
 * rather than kept under rules no longer followed.
 */
import type { EventStore } from '../../domain/event-store.js';

export interface LiveConnection {
  readonly connectionId: string;
  readonly sessionId: string;
  readonly userId: number;
  disconnect(reason: string): void;
}

/** Why a user event ends the user's live connections, or undefined when it does not. */
function userChange(type: string, data: unknown): string | undefined {
  switch (type) {
    case 'UserDisabled':
      return 'user disabled';
    case 'UserDeleted':
      return 'user deleted';
    case 'UserPasswordChanged':
      return 'password changed';
    case 'UserKeyRemoved':
      return 'key removed';
    case 'UserUpdated': {
      const changes = (data as { changes?: Record<string, unknown> }).changes ?? {};
      return ['rights', 'permissions', 'homeFolder'].some((k) => k in changes) ? 'user changed' : undefined;
    }
    default:
      return undefined;
  }
}

/** How long changes are remembered for sign-ins still on their way to `add`. */
const RECENT_MS = 120_000;
/** Failed resumptions in a row after which every connection is cut. */
const MAX_RESUME_FAILURES = 3;

export class ConnectionRegistry {
  private readonly connections = new Map<string, LiveConnection>();
  private controller: AbortController | undefined;
  private following: Promise<void> | undefined;
  /** The last log position handled. */
  private handled = 0;
  /** Recent ends and changes, by `session:<id>` and `user:<id>`: position, reason, when seen. */
  private readonly recent = new Map<string, { position: number; reason: string; at: number }>();

  /** The log position handled so far: take it before a sign-in, hand it to `add`. */
  get position(): number {
    return this.handled;
  }

  /**
   * Registers a connection signed in when the registry stood at `since`; false (and the
   * connection cut) when its session ended or its user changed after that.
   */
  add(connection: LiveConnection, since: number): boolean {
    this.forgetOld();
    for (const key of [`session:${connection.sessionId}`, `user:${connection.userId}`]) {
      const change = this.recent.get(key);
      if (change && change.position > since) {
        connection.disconnect(change.reason);
        return false;
      }
    }
    this.connections.set(connection.connectionId, connection);
    return true;
  }

  remove(connectionId: string): void {
    this.connections.delete(connectionId);
  }

  get size(): number {
    return this.connections.size;
  }

  disconnectSession(sessionId: string, reason: string): void {
    for (const c of [...this.connections.values()]) if (c.sessionId === sessionId) c.disconnect(reason);
  }

  disconnectUser(userId: number, reason: string): void {
    for (const c of [...this.connections.values()]) if (c.userId === userId) c.disconnect(reason);
  }

  disconnectAll(reason: string): void {
    for (const c of [...this.connections.values()]) c.disconnect(reason);
  }

  /** Follows the log from its current head and cuts connections whose session or user ended. */
  async follow(store: EventStore, onError: (error: unknown) => void, retryMs = 500): Promise<void> {
    const controller = new AbortController();
    this.controller = controller;
    this.handled = await store.headPosition();
    this.following = (async () => {
      let failures = 0;
      while (!controller.signal.aborted) {
        try {
          for await (const batch of store.subscribeToAll({
            after: this.handled,
            signal: controller.signal,
          })) {
            failures = 0;
            for (const event of batch) {
              this.handle(event.type, event.data, event.globalPosition);
              this.handled = event.globalPosition;
            }
          }
        } catch (error) {
          if (controller.signal.aborted) return;
          onError(error);
          failures++;
          if (failures >= MAX_RESUME_FAILURES) this.disconnectAll('live checks of sign-in rules unavailable');
          await new Promise((resolve) => setTimeout(resolve, retryMs * 2 ** Math.min(failures, 5)).unref());
        }
      }
    })();
  }

  private handle(type: string, payload: unknown, position: number): void {
    const data = payload as { sessionId?: string; userId?: number };
    let key: string | undefined;
    let reason: string | undefined;
    if ((type === 'SessionClosed' || type === 'SessionExpired') && data.sessionId) {
      key = `session:${data.sessionId}`;
      reason = type === 'SessionClosed' ? 'session closed' : 'session expired';
      this.disconnectSession(data.sessionId, reason);
    } else if (type === 'SessionReplaced' && data.sessionId) {
      key = `session:${data.sessionId}`;
      reason = 'session replaced';
      this.disconnectSession(data.sessionId, reason);
    } else if (data.userId !== undefined) {
      reason = userChange(type, payload);
      if (reason) {
        key = `user:${data.userId}`;
        this.disconnectUser(data.userId, reason);
      }
    }
    if (key && reason) this.recent.set(key, { position, reason, at: Date.now() });
  }

  private forgetOld(): void {
    const before = Date.now() - RECENT_MS;
    for (const [key, change] of this.recent) if (change.at < before) this.recent.delete(key);
  }

  async stop(): Promise<void> {
    this.controller?.abort();
    await this.following;
  }
}
