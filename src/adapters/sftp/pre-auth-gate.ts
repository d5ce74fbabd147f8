/**
 * Bounds on SSH connections that have not signed in yet. Sluice accepts TCP itself and hands
 * each socket to ssh2 (`injectSocket`) only after this gate admits it, so a client that never
 * even sends its SSH identification line is bounded too:
 *
 * - at most `maxTotal` unauthenticated connections, and `maxPerAddress` from one address; a
 *   connection over either cap is closed at once;
 * - a connection not signed in within `authTimeoutMs` of its TCP accept is cut.
 *
 * A connection leaves the gate's counts when it signs in (`authenticated`) or closes.
 */
import type { Socket } from 'node:net';
import type { AttemptOutcome } from '../../application/connections.js';
import type { RefusalCounter, RefusalReason } from '../../application/refusals.js';

/** How each refusal is counted (sluice_refusals_total): SSH's names unless told otherwise. */
export interface PreAuthReasons {
  readonly timeout: RefusalReason;
  readonly total: RefusalReason;
  readonly perAddress: RefusalReason;
}

const SSH_REASONS: PreAuthReasons = {
  timeout: 'ssh-auth-timeout',
  total: 'ssh-unauthenticated-total',
  perAddress: 'ssh-unauthenticated-per-address',
};

export interface PreAuthLimits {
  readonly authTimeoutMs: number;
  readonly maxTotal: number;
  readonly maxPerAddress: number;
}

interface Pending {
  readonly address: string;
  readonly socket: Socket;
  readonly timer: NodeJS.Timeout;
}

export class PreAuthGate {
  /** Unauthenticated connections by `address:port` (unique per live TCP connection). */
  private readonly pending = new Map<string, Pending>();
  private readonly perAddress = new Map<string, number>();

  constructor(
    private readonly limits: PreAuthLimits,
    private readonly refused: RefusalCounter,
    /** Told of every connection that ends before signing in, and why. */
    private readonly endedUnauthenticated: (address: string, outcome: AttemptOutcome) => void = () => {},
    private readonly reasons: PreAuthReasons = SSH_REASONS,
  ) {}

  /** Unauthenticated connections held now. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Admits a new socket (true) or destroys it at once (false). An admitted one is cut when
   * its sign-in takes longer than the timeout.
   */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? 'unknown';
    const key = keyOf(address, socket.remotePort);
    if (this.pending.size >= this.limits.maxTotal) {
      this.refused(this.reasons.total);
      this.endedUnauthenticated(address, 'refused');
      socket.destroy();
      return false;
    }
    if ((this.perAddress.get(address) ?? 0) >= this.limits.maxPerAddress) {
      this.refused(this.reasons.perAddress);
      this.endedUnauthenticated(address, 'refused');
      socket.destroy();
      return false;
    }
    const timer = setTimeout(() => {
      if (this.pending.get(key)?.socket !== socket) return;
      this.refused(this.reasons.timeout);
      this.forget(key);
      this.endedUnauthenticated(address, 'timeout');
      socket.destroy();
    }, this.limits.authTimeoutMs);
    timer.unref();
    this.pending.set(key, { address, socket, timer });
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    socket.once('close', () => {
      if (this.pending.get(key)?.socket !== socket) return;
      this.forget(key);
      this.endedUnauthenticated(address, 'closed');
    });
    return true;
  }

  /** The connection from `address:port` signed in: no longer bounded here. */
  authenticated(address: string, port: number | undefined): void {
    this.forget(keyOf(address, port));
  }

  /** Closes every connection still waiting to sign in (server shutdown). */
  closeAll(): void {
    for (const [key, { socket }] of [...this.pending]) {
      this.forget(key);
      socket.destroy();
    }
  }

  private forget(key: string): void {
    const entry = this.pending.get(key);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.pending.delete(key);
    const left = (this.perAddress.get(entry.address) ?? 1) - 1;
    if (left > 0) this.perAddress.set(entry.address, left);
    else this.perAddress.delete(entry.address);
  }
}

function keyOf(address: string, port: number | undefined): string {
  return `${address}|${port ?? 0}`;
}
