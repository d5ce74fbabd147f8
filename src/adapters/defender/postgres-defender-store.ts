/**
 * The sign-in defender's counters on PostgreSQL (table `signin_defender`): every statement is
 * one atomic row update, so several Sluice instances share the counts. Bans are numbered per
 * key: starting and lifting the n-th ban are idempotent, so the defender may record first and
 * apply after (and apply again).
 */
import { type Kysely, sql } from 'kysely';
import type {
  Ban,
  BanKey,
  BanScope,
  CountScope,
  DefenderStore,
  RefusedSummary,
} from '../../application/ports.js';

interface Row {
  scope: BanScope;
  key: string;
  failures: number;
  ban_number: number;
  banned_until: Date | null;
}

const toBan = (row: Row): Ban => ({
  scope: row.scope,
  key: row.key,
  until: row.banned_until as Date,
  banNumber: row.ban_number,
  failures: row.failures,
});

export class PostgresDefenderStore implements DefenderStore {
  constructor(private readonly db: Kysely<unknown>) {}

  async check(
    address: string,
    userName: string | null,
    now: Date,
    failedSince: Date,
  ): Promise<{ ban?: Ban; heldUntil?: Date }> {
    // A name's ban refuses only addresses that failed lately (in their counting window).
    const byName =
      userName === null
        ? sql`FALSE`
        : sql`(scope = 'user' AND key = ${userName} AND EXISTS (
            SELECT 1 FROM signin_defender a
             WHERE a.scope = 'address' AND a.key = ${address} AND a.failures > 0
               AND a.window_start > ${failedSince}))`;
    // One statement: the refusal is counted where a ban holds; else the address's hold, if any.
    const { rows } = await sql<Row & { held_until: Date | null }>`
      WITH refused AS (
        UPDATE signin_defender
           SET refused = refused + 1, refused_from = coalesce(refused_from, ${now}), refused_to = ${now}
         WHERE ((scope = 'address' AND key = ${address}) OR ${byName}) AND banned_until > ${now}
        RETURNING scope, key, failures, ban_number, banned_until, NULL::timestamptz AS held_until
      )
      SELECT * FROM refused
      UNION ALL
      SELECT scope, key, failures, ban_number, banned_until, held_until FROM signin_defender
       WHERE scope = 'address' AND key = ${address} AND held_until > ${now}
         AND NOT EXISTS (SELECT 1 FROM refused)`.execute(this.db);
    const [first] = rows;
    if (first === undefined) return {};
    return first.held_until === null ? { ban: toBan(first) } : { heldUntil: first.held_until };
  }

  async fail(
    scope: BanScope,
    key: string,
    now: Date,
    rule: {
      max: number;
      windowMs: number;
      banLength: (banNumber: number) => number;
      delay: (failures: number) => number;
    },
  ): Promise<{ failures: number; due?: Ban }> {
    const windowStart = new Date(now.getTime() - rule.windowMs);
    const { rows } = await sql<Row>`
      INSERT INTO signin_defender AS d (scope, key, failures, window_start)
      VALUES (${scope}, ${key}, 1, ${now})
      ON CONFLICT (scope, key) DO UPDATE SET
        failures = CASE WHEN d.window_start <= ${windowStart} THEN 1 ELSE d.failures + 1 END,
        window_start = CASE WHEN d.window_start <= ${windowStart} THEN ${now} ELSE d.window_start END
      RETURNING scope, key, failures, ban_number, banned_until`.execute(this.db);
    const row = rows[0];
    if (!row) return { failures: 0 };
    const failures = row.failures;
    if (failures < rule.max || (row.banned_until !== null && row.banned_until > now)) {
      const delay = rule.delay(failures);
      if (delay > 0) {
        const until = new Date(now.getTime() + delay);
        await sql`
          UPDATE signin_defender SET held_until = greatest(held_until, ${until})
           WHERE scope = ${scope} AND key = ${key}`.execute(this.db);
      }
      return { failures };
    }
    const banNumber = row.ban_number + 1;
    return {
      failures,
      due: {
        scope,
        key,
        failures,
        banNumber,
        until: new Date(now.getTime() + rule.banLength(banNumber)),
      },
    };
  }

  async budgetFailure(reason: string, now: Date, max: number): Promise<boolean> {
    const minuteAgo = new Date(now.getTime() - 60_000);
    const { rows } = await sql<{ failures: number }>`
      INSERT INTO signin_defender AS d (scope, key, failures, window_start)
      VALUES ('failures', ${reason}, 1, ${now})
      ON CONFLICT (scope, key) DO UPDATE SET
        failures = CASE WHEN d.window_start <= ${minuteAgo} THEN 1 ELSE d.failures + 1 END,
        window_start = CASE WHEN d.window_start <= ${minuteAgo} THEN ${now} ELSE d.window_start END
      RETURNING failures`.execute(this.db);
    if ((rows[0]?.failures ?? 0) <= max) return true;
    // Past the budget the failure is counted like a refusal, for the next summary.
    await sql`
      UPDATE signin_defender
         SET refused = refused + 1, refused_from = coalesce(refused_from, ${now}), refused_to = ${now}
       WHERE scope = 'failures' AND key = ${reason}`.execute(this.db);
    return false;
  }

  async startBan(ban: Ban, now: Date): Promise<boolean> {
    // Only the first to move ban_number to this ban's number starts it.
    const { rows } = await sql`
      UPDATE signin_defender
         SET ban_number = ${ban.banNumber}, banned_until = ${ban.until}, failures = 0, window_start = ${now}
       WHERE scope = ${ban.scope} AND key = ${ban.key} AND ban_number < ${ban.banNumber}
      RETURNING key`.execute(this.db);
    return rows.length > 0;
  }

  async banOf(scope: BanScope, key: string, now: Date): Promise<Ban | undefined> {
    const { rows } = await sql<Row>`
      SELECT scope, key, failures, ban_number, banned_until FROM signin_defender
       WHERE scope = ${scope} AND key = ${key} AND banned_until > ${now}`.execute(this.db);
    return rows[0] === undefined ? undefined : toBan(rows[0]);
  }

  async list(now: Date, limit: number, after?: BanKey): Promise<Ban[]> {
    const { rows } = await sql<Row>`
      SELECT scope, key, failures, ban_number, banned_until FROM signin_defender
       WHERE banned_until > ${now}
         ${after ? sql`AND (banned_until, scope, key) > (${after.until}, ${after.scope}, ${after.key})` : sql``}
       ORDER BY banned_until, scope, key
       LIMIT ${limit}`.execute(this.db);
    return rows.map(toBan);
  }

  async lift(scope: BanScope, key: string, banNumber: number, now: Date): Promise<boolean> {
    const { rows } = await sql`
      UPDATE signin_defender SET banned_until = NULL, failures = 0, window_start = ${now}
       WHERE scope = ${scope} AND key = ${key} AND ban_number = ${banNumber} AND banned_until > ${now}
      RETURNING key`.execute(this.db);
    return rows.length > 0;
  }

  async takeRefused(): Promise<RefusedSummary[]> {
    // The statement's snapshot shows rows just taken as not pending: each row comes once.
    const { rows } = await sql<{
      scope: CountScope;
      key: string;
      summary_number: number;
      pending: number;
      pending_from: Date;
      pending_to: Date;
    }>`
      WITH taken AS (
        UPDATE signin_defender
           SET pending = refused, pending_from = refused_from, pending_to = refused_to,
               summary_number = summary_number + 1, refused = 0, refused_from = NULL, refused_to = NULL
         WHERE refused > 0 AND pending = 0
        RETURNING scope, key, summary_number, pending, pending_from, pending_to
      )
      SELECT * FROM taken
      UNION ALL
      SELECT scope, key, summary_number, pending, pending_from, pending_to FROM signin_defender
       WHERE pending > 0`.execute(this.db);
    return rows.map((r) => ({
      scope: r.scope,
      key: r.key,
      number: r.summary_number,
      count: r.pending,
      from: r.pending_from,
      to: r.pending_to,
    }));
  }

  async settleRefused(summary: RefusedSummary): Promise<void> {
    await sql`
      UPDATE signin_defender SET pending = 0, pending_from = NULL, pending_to = NULL
       WHERE scope = ${summary.scope} AND key = ${summary.key} AND summary_number = ${summary.number}`.execute(
      this.db,
    );
  }
}
