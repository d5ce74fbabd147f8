/**
 * A user's connections counted across instances (tables `connection_leases`,
 * `instance_leases`). Taking a lease is one transaction under an advisory lock per user: the
 * leases of dead instances are dropped, the live ones counted, and a new one inserted only
 * under the limit, so of simultaneous sign-ins on any number of instances exactly the limit
 * get through. Each instance renews its own lease; times are the database's, so instances'
 * clocks need not agree.
 */
import { type Kysely, sql } from 'kysely';
import type { ConnectionLeases } from '../../application/ports.js';

/** The advisory-lock class of per-user connection counts (any constant no other lock uses). */
const LOCK_CLASS = 0x51c0;

export interface InstanceLeaseTiming {
  /** How often this instance renews its lease. */
  readonly renewMs: number;
  /** How long a lease holds unrenewed: an instance silent this long is dead. */
  readonly ttlMs: number;
}

export class PostgresConnectionLeases implements ConnectionLeases {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Kysely<unknown>,
    private readonly instanceId: string,
    private readonly timing: InstanceLeaseTiming,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Takes this instance's lease and keeps renewing it (and dropping dead instances' leases). */
  async start(): Promise<void> {
    await this.renew();
    this.timer = setInterval(() => {
      this.renew().catch(this.onError);
    }, this.timing.renewMs);
    this.timer.unref();
  }

  /** Gives back this instance's connection leases and its own. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await sql`DELETE FROM connection_leases WHERE instance_id = ${this.instanceId}`.execute(this.db);
    await sql`DELETE FROM instance_leases WHERE instance_id = ${this.instanceId}`.execute(this.db);
  }

  private async renew(): Promise<void> {
    await sql`
      INSERT INTO instance_leases (instance_id, expires_at)
      VALUES (${this.instanceId}, now() + ${this.timing.ttlMs} * interval '1 millisecond')
      ON CONFLICT (instance_id) DO UPDATE SET expires_at = EXCLUDED.expires_at`.execute(this.db);
    await sql`
      DELETE FROM connection_leases c
       WHERE NOT EXISTS (
         SELECT 1 FROM instance_leases i WHERE i.instance_id = c.instance_id AND i.expires_at > now())`.execute(
      this.db,
    );
    await sql`DELETE FROM instance_leases WHERE expires_at < now() - interval '1 day'`.execute(this.db);
  }

  acquire(userId: number, connectionId: string, max: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(${LOCK_CLASS}::integer, ${userId}::integer)`.execute(trx);
      await sql`
        DELETE FROM connection_leases c
         WHERE c.user_id = ${userId} AND NOT EXISTS (
           SELECT 1 FROM instance_leases i WHERE i.instance_id = c.instance_id AND i.expires_at > now())`.execute(
        trx,
      );
      const { rows } = await sql<{ n: number }>`
        SELECT count(*)::integer AS n FROM connection_leases WHERE user_id = ${userId}`.execute(trx);
      if ((rows[0]?.n ?? 0) >= max) return false;
      await sql`
        INSERT INTO connection_leases (connection_id, user_id, instance_id)
        VALUES (${connectionId}, ${userId}, ${this.instanceId})`.execute(trx);
      return true;
    });
  }

  async release(connectionId: string): Promise<void> {
    await sql`DELETE FROM connection_leases WHERE connection_id = ${connectionId}`.execute(this.db);
  }
}
