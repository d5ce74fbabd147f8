/**
 * Wakes subscribers when events are appended: at once in this process, and in every other
 * process sharing the database through LISTEN/NOTIFY on a dedicated connection.
 *
 * The NOTIFY is sent after the append has committed, never inside the append's transaction:
 * PostgreSQL serialises the commits of transactions that NOTIFY, which would undo group
 * commit. Notifications are coalesced: one in flight at a time and at most one per
 * `intervalMs` (the first at once, the appends of the rest of the interval announced together
 * at its end), so a burst of appends costs one NOTIFY. Subscribers also poll, so a lost
 * notification only delays them.
 */
import { EventEmitter } from 'node:events';
import pg from 'pg';

const CHANNEL = 'sluice_events';

export interface NotifierLogger {
  warn(obj: object, msg: string): void;
}

export class AppendNotifier {
  private readonly local = new EventEmitter();
  /** Grows on every wake-up, so a waiter can tell whether it missed one. */
  version = 0;
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private notifyInFlight = false;
  private notifyAgain = false;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | undefined;

  private notifiedAt = Number.NEGATIVE_INFINITY;
  private notifyTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly connectionString: string,
    private readonly logger?: NotifierLogger,
    /** Least time between two NOTIFYs of this process (default 25 ms). */
    private readonly intervalMs = 25,
  ) {
    this.local.setMaxListeners(0);
    this.local.on('append', () => {
      this.version += 1;
    });
  }

  /** Connects the LISTEN connection; subscribers poll until it is up. */
  start(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.connecting ??= this.connect();
    return this.connecting;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString });
    client.on('notification', (message) => {
      // Our own NOTIFY coming back: its appends woke this process when they committed.
      if (message.processId === (client as unknown as { processID?: number }).processID) return;
      this.local.emit('append');
    });
    client.on('error', (error) => {
      this.logger?.warn({ err: error }, 'event notification connection lost; reconnecting');
      this.dropClient(client);
    });
    client.on('end', () => this.dropClient(client));
    try {
      await client.connect();
      // A NOTIFY is a transaction of its own; its commit need not wait for a WAL flush (the
      // appends it announces are durable already), so it does not compete with theirs.
      await client.query('SET synchronous_commit = off');
      await client.query(`LISTEN ${CHANNEL}`);
      if (this.closed) {
        this.dropClient(client);
        return;
      }
      this.client = client;
      // Anything appended while we were not listening: let subscribers look.
      this.local.emit('append');
      // Appends made before the connection was up: tell the other processes now.
      if (this.notifyAgain) {
        this.notifyAgain = false;
        this.sendNotify();
      }
    } catch (error) {
      this.logger?.warn({ err: error }, 'event notification connection failed; retrying');
      this.dropClient(client);
    }
  }

  private dropClient(client: pg.Client): void {
    if (this.client === client) this.client = undefined;
    client.removeAllListeners('notification');
    client.end().catch(() => undefined);
    if (this.closed || this.reconnectTimer) return;
    this.connecting = undefined;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.closed) void this.start();
    }, 1000);
    this.reconnectTimer.unref();
  }

  /** Called after an append committed in this process. */
  appended(): void {
    this.local.emit('append');
    this.sendNotify();
  }

  private sendNotify(): void {
    if (this.notifyInFlight || this.notifyTimer) {
      this.notifyAgain = true;
      return;
    }
    const wait = this.notifiedAt + this.intervalMs - performance.now();
    if (wait > 0) {
      this.notifyAgain = true;
      this.notifyTimer = setTimeout(() => {
        this.notifyTimer = undefined;
        if (this.notifyAgain && !this.closed) {
          this.notifyAgain = false;
          this.sendNotify();
        }
      }, wait);
      return;
    }
    const client = this.client;
    if (!client) {
      // Not connected: a process that only appends never called start(). Connect (unless a
      // reconnect is already scheduled) and send the NOTIFY once connected.
      this.notifyAgain = true;
      if (!this.connecting && !this.reconnectTimer) void this.start();
      return;
    }
    this.notifyInFlight = true;
    this.notifiedAt = performance.now();
    client
      .query(`NOTIFY ${CHANNEL}`)
      .catch((error: unknown) => this.logger?.warn({ err: error }, 'NOTIFY failed'))
      .finally(() => {
        this.notifyInFlight = false;
        if (this.notifyAgain) {
          this.notifyAgain = false;
          this.sendNotify();
        }
      });
  }

  /**
   * Resolves on the next append anywhere (at once if one happened since `version` was
   * `sinceVersion`), after `timeoutMs`, or when `signal` aborts.
   */
  waitForAppend(sinceVersion: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.version !== sinceVersion || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.local.off('append', done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.local.on('append', done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.notifyTimer);
    const client = this.client;
    this.client = undefined;
    this.local.emit('append');
    if (client) await client.end().catch(() => undefined);
  }
}
