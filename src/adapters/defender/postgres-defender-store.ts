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

  async refuse(keys: ReadonlyArray<{ scope: BanScope; key: string }>, now: Date): Promise<Ban | undefined> {
    if (keys.length === 0) return undefined;
    const match = sql.join(
      keys.map((k) => sql`(scope = ${k.scope} AND key = ${k.key})`),
      sql` OR `,
    );
    const { rows } = await sql<Row>`
      UPDATE signin_defender
         SET refused = refused + 1, refused_from = coalesce(refused_from, ${now}), refused_to = ${now}
       WHERE (${match}) AND banned_until > ${now}
      RETURNING scope, key, failures, ban_number, banned_until`.execute(this.db);
    const [first] = rows;
    return first === undefined ? undefined : toBan(first);
  }

  async fail(
    scope: BanScope,
    key: string,
    now: Date,
    rule: { max: number; windowMs: number; banLength: (banNumber: number) => number },
  ): Promise<Ban | undefined> {
    const windowStart = new Date(now.getTime() - rule.windowMs);
    const { rows } = await sql<Row>`
      INSERT INTO signin_defender AS d (scope, key, failures, window_start)
      VALUES (${scope}, ${key}, 1, ${now})
      ON CONFLICT (scope, key) DO UPDATE SET
        failures = CASE WHEN d.window_start <= ${windowStart} THEN 1 ELSE d.failures + 1 END,
        window_start = CASE WHEN d.window_start <= ${windowStart} THEN ${now} ELSE d.window_start END
      RETURNING scope, key, failures, ban_number, banned_until`.execute(this.db);
    const row = rows[0];
    if (!row || row.failures < rule.max || (row.banned_until !== null && row.banned_until > now))
      return undefined;
    const banNumber = row.ban_number + 1;
    const until = new Date(now.getTime() + rule.banLength(banNumber));
    // Only the instance that moves ban_number from what it read starts the ban.
    const started = await sql<Row>`
      UPDATE signin_defender
         SET ban_number = ${banNumber}, banned_until = ${until}, failures = 0, window_start = ${now}
       WHERE scope = ${scope} AND key = ${key} AND ban_number = ${row.ban_number}
         AND (banned_until IS NULL OR banned_until <= ${now})
      RETURNING scope, key, ${row.failures}::integer AS failures, ban_number, banned_until`.execute(this.db);
    const [ban] = started.rows;
    return ban === undefined ? undefined : toBan(ban);
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
