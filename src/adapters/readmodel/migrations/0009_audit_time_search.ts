/**
 * Time windows of the audit view without a time index. `at` never decreases with the position
 * (src/projections/audit/rows.ts raises it to the row before), so "the first row recorded at or
 * after t" is found by a binary search over the primary key: about 25 index probes at 10 M
 * rows (40 for KurrentDB's byte positions), well under a millisecond in one call. The btree on
 * (at, global_position) it replaces cost every inserted row one more index insertion, about a
 * tenth of the audit projection's time.
 *
 * `audit_position_from(t, inclusive)`: the position of the first row whose `at` is >= t
 * (inclusive) or > t (not inclusive); NULL when there is none.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION audit_position_from(t timestamptz, inclusive boolean) RETURNS bigint
    LANGUAGE plpgsql STABLE AS $$
    DECLARE
      lo bigint;   -- every row at or below lo is before t
      hi bigint;   -- a row at or after t
      mid bigint;
      p bigint;
      a timestamptz;
    BEGIN
      SELECT global_position, at INTO hi, a FROM audit_events ORDER BY global_position DESC LIMIT 1;
      IF hi IS NULL OR a < t OR (a = t AND NOT inclusive) THEN
        RETURN NULL;
      END IF;
      SELECT global_position - 1 INTO lo FROM audit_events ORDER BY global_position LIMIT 1;
      WHILE hi - lo > 1 LOOP
        mid := lo + (hi - lo) / 2;
        -- The last row in (lo, mid]: before t, then so is everything up to mid.
        SELECT global_position, at INTO p, a FROM audit_events
          WHERE global_position > lo AND global_position <= mid
          ORDER BY global_position DESC LIMIT 1;
        IF NOT FOUND OR a < t OR (a = t AND NOT inclusive) THEN
          lo := mid;
        ELSE
          hi := p;
        END IF;
      END LOOP;
      RETURN hi;
    END
    $$`.execute(db);
  await sql`DROP INDEX audit_events_by_at`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE INDEX audit_events_by_at ON audit_events (at, global_position)`.execute(db);
  await sql`DROP FUNCTION audit_position_from(timestamptz, boolean)`.execute(db);
}
