/**
 * The SSH connections this process holds, by session: when a session ends anywhere (Close
 * through the API, in this process or another; expiry; the user disabled or deleted), its
 * live connections here are cut. It learns of those ends from the event log, so no process
 * needs to know another's memory.
 */
import type { EventStore } from '../../domain/event-store.js';

export interface LiveConnection {
  readonly connectionId: string;
  readonly sessionId: string;
  readonly userId: number;
  disconnect(reason: string): void;
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

  countForUser(userId: number): number {
    let n = 0;
    for (const c of this.connections.values()) if (c.userId === userId) n++;
    return n;
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
            } else if (
              (event.type === 'UserDisabled' || event.type === 'UserDeleted') &&
              data.userId !== undefined
            ) {
              this.disconnectUser(
                data.userId,
                event.type === 'UserDisabled' ? 'user disabled' : 'user deleted',
              );
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
