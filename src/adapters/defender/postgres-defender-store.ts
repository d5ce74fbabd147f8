/**
 * The sign-in defender's counters on PostgreSQL (table `signin_defender`): every statement is
 * one atomic row update, so several Sluice instances share the counts and exactly one of them
 * starts each ban.
 */
import { type Kysely, sql } from 'kysely';
import type { Ban, BanScope, DefenderStore } from '../../application/ports.js';

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
    keys: ReadonlyArray<{ scope: BanScope; key: string }>,
    now: Date,
  ): Promise<{ ban?: Ban; heldUntil?: Date }> {
    if (keys.length === 0) return {};
    const match = sql.join(
      keys.map((k) => sql`(scope = ${k.scope} AND key = ${k.key})`),
      sql` OR `,
    );
    // One statement: the refusal is counted where a ban holds; else the address's hold, if any.
    const { rows } = await sql<Row & { held_until: Date | null }>`
      WITH refused AS (
        UPDATE signin_defender
           SET refused = refused + 1, refused_from = coalesce(refused_from, ${now}), refused_to = ${now}
         WHERE (${match}) AND banned_until > ${now}
        RETURNING scope, key, failures, ban_number, banned_until, NULL::timestamptz AS held_until
      )
      SELECT * FROM refused
      UNION ALL
      SELECT scope, key, failures, ban_number, banned_until, held_until FROM signin_defender
       WHERE (${match}) AND scope = 'address' AND held_until > ${now}
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
  ): Promise<{ failures: number; ban?: Ban }> {
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
    const until = new Date(now.getTime() + rule.banLength(banNumber));
    // Only the instance that moves ban_number from what it read starts the ban.
    const started = await sql<Row>`
      UPDATE signin_defender
         SET ban_number = ${banNumber}, banned_until = ${until}, failures = 0, window_start = ${now}
       WHERE scope = ${scope} AND key = ${key} AND ban_number = ${row.ban_number}
         AND (banned_until IS NULL OR banned_until <= ${now})
      RETURNING scope, key, ${failures}::integer AS failures, ban_number, banned_until`.execute(this.db);
    const [ban] = started.rows;
    return ban === undefined ? { failures } : { failures, ban: toBan(ban) };
  }

  async list(now: Date): Promise<Ban[]> {
    const { rows } = await sql<Row>`
      SELECT scope, key, failures, ban_number, banned_until FROM signin_defender
       WHERE banned_until > ${now} ORDER BY banned_until, scope, key`.execute(this.db);
    return rows.map(toBan);
  }

  async lift(scope: BanScope, key: string, now: Date): Promise<boolean> {
    const { rows } = await sql`
      UPDATE signin_defender SET banned_until = NULL, failures = 0, window_start = ${now}
       WHERE scope = ${scope} AND key = ${key} AND banned_until > ${now}
      RETURNING key`.execute(this.db);
    return rows.length > 0;
  }

  async takeRefused(): Promise<Array<{ scope: BanScope; key: string; count: number; from: Date; to: Date }>> {
    const { rows } = await sql<{
      scope: BanScope;
      key: string;
      refused: number;
      refused_from: Date;
      refused_to: Date;
    }>`
      WITH taken AS (
        SELECT scope, key, refused, refused_from, refused_to FROM signin_defender
         WHERE refused > 0 FOR UPDATE SKIP LOCKED
      )
      UPDATE signin_defender d SET refused = 0, refused_from = NULL, refused_to = NULL
        FROM taken t WHERE d.scope = t.scope AND d.key = t.key
      RETURNING t.scope, t.key, t.refused, t.refused_from, t.refused_to`.execute(this.db);
    return rows.map((r) => ({
      scope: r.scope,
      key: r.key,
      count: r.refused,
      from: r.refused_from,
      to: r.refused_to,
    }));
  }
}
