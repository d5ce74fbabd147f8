/**
 * The SSH connections this process holds, by session: when a session ends anywhere (Close
 * through the API, in this process or another; expiry; the user disabled or deleted), its
 * live connections here are cut, and so are a user's connections when the rules they were
 * signed in under change (rights, permissions, home folder, password, a key removed): the
 * client signs in again under the new ones. It learns of all this from the event log, so no
 * process needs to know another's memory.
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

export class ConnectionRegistry {
  private readonly connections = new Map<string, LiveConnection>();
  private controller: AbortController | undefined;
  private following: Promise<void> | undefined;

  add(connection: LiveConnection): void {
    this.connections.set(connection.connectionId, connection);
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
  async follow(store: EventStore, onError: (error: unknown) => void): Promise<void> {
    const controller = new AbortController();
    this.controller = controller;
    const after = await store.headPosition();
    this.following = (async () => {
      try {
        for await (const batch of store.subscribeToAll({ after, signal: controller.signal })) {
          for (const event of batch) {
            const data = event.data as { sessionId?: string; userId?: number };
            if ((event.type === 'SessionClosed' || event.type === 'SessionExpired') && data.sessionId) {
              this.disconnectSession(
                data.sessionId,
                event.type === 'SessionClosed' ? 'session closed' : 'session expired',
              );
            } else if (event.type === 'SessionReplaced' && data.sessionId) {
              this.disconnectSession(data.sessionId, 'session replaced');
            } else if (data.userId !== undefined) {
              const reason = userChange(event.type, event.data);
              if (reason) this.disconnectUser(data.userId, reason);
            }
          }
        }
      } catch (error) {
        if (!controller.signal.aborted) onError(error);
      }
    })();
  }

  async stop(): Promise<void> {
    this.controller?.abort();
    await this.following;
  }
}
