/**
 * The event log: one append-only `events` table, a `streams` table holding each stream's
 * revision (optimistic concurrency), and `sluice_append`, which appends a batch in one round trip.
 *
 * Ordering without skips: positions come from a sequence before commit, so a reader that pages
 * by position alone can pass a position whose transaction commits later. `sluice_append`
 * takes its transaction id and its positions together inside a short critical section (a
 * session advisory lock released before the insert, never held until commit), so position
 * order equals transaction-id order. A reader then returns only rows whose transaction id is
 * below the snapshot's xmin (every such transaction has ended), and every earlier position
 * belongs to an even older transaction: committed, and visible, or rolled back.
 *
 * Within one stream, appends first take a per-stream transaction lock held until commit, so
 * concurrent appends to one stream take their positions in the order of their revisions.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE SEQUENCE events_position_seq AS bigint MINVALUE 1 START 1 CACHE 1`.execute(db);
  await sql`
    CREATE TABLE events (
      global_position bigint PRIMARY KEY,
      transaction_id xid8 NOT NULL,
      stream_id text NOT NULL,
      stream_revision bigint NOT NULL,
      event_id uuid NOT NULL UNIQUE,
      type text NOT NULL,
      data jsonb NOT NULL,
      metadata jsonb NOT NULL,
      recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      CONSTRAINT events_stream_revision_unique UNIQUE (stream_id, stream_revision)
    )`.execute(db);
  await sql`
    CREATE TABLE streams (
      stream_id text PRIMARY KEY,
      revision bigint NOT NULL
    )`.execute(db);

  // The log is immutable: no UPDATE, DELETE or TRUNCATE, whoever asks.
  await sql`
    CREATE FUNCTION sluice_events_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'events are immutable: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION sluice_events_immutable()`.execute(db);
  await sql`
    CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION sluice_events_immutable()`.execute(db);

  // p_expected: -1 any, -2 no stream, -3 stream exists, n >= 0 exact revision.
  // Raises SQLSTATE 'SLU01' with the actual revision (-1 for no stream) as DETAIL on a mismatch.
  await sql`
    CREATE FUNCTION sluice_append(
      p_stream text, p_expected bigint,
      p_ids uuid[], p_types text[], p_data jsonb[], p_metadata jsonb[]
    ) RETURNS TABLE (first_position bigint, last_position bigint, next_revision bigint)
    LANGUAGE plpgsql AS $$
    DECLARE
      n int := cardinality(p_ids);
      v_first bigint;
      v_next bigint;
      v_actual bigint;
    BEGIN
      IF n IS NULL OR n = 0 THEN
        RAISE EXCEPTION 'append needs at least one event' USING ERRCODE = 'invalid_parameter_value';
      END IF;
      IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
        RAISE EXCEPTION 'sluice_append must be the first write of its transaction'
          USING ERRCODE = 'invalid_transaction_state';
      END IF;

      -- One append per stream at a time, until commit, so revision order == position order.
      -- (An advisory lock assigns no transaction id, so a waiting append holds no reader back.)
      PERFORM pg_advisory_xact_lock(7291525, hashtext(p_stream));

      -- Critical section: transaction id and positions are taken in the same order.
      PERFORM pg_advisory_lock(7291524, 1);
      BEGIN
        PERFORM pg_current_xact_id();
        v_first := nextval('events_position_seq');
        IF n > 1 THEN
          PERFORM setval('events_position_seq', v_first + n - 1);
        END IF;
      EXCEPTION WHEN OTHERS OR query_canceled THEN
        PERFORM pg_advisory_unlock(7291524, 1);
        RAISE;
      END;
      PERFORM pg_advisory_unlock(7291524, 1);

      IF p_expected = -1 THEN
        INSERT INTO streams AS s (stream_id, revision) VALUES (p_stream, n - 1)
          ON CONFLICT (stream_id) DO UPDATE SET revision = s.revision + n
          RETURNING s.revision INTO v_next;
      ELSIF p_expected = -2 THEN
        INSERT INTO streams (stream_id, revision) VALUES (p_stream, n - 1)
          ON CONFLICT (stream_id) DO NOTHING
          RETURNING revision INTO v_next;
      ELSIF p_expected = -3 THEN
        UPDATE streams SET revision = revision + n WHERE stream_id = p_stream
          RETURNING revision INTO v_next;
      ELSE
        UPDATE streams SET revision = revision + n WHERE stream_id = p_stream AND revision = p_expected
          RETURNING revision INTO v_next;
      END IF;

      IF v_next IS NULL THEN
        SELECT revision INTO v_actual FROM streams WHERE stream_id = p_stream;
        RAISE EXCEPTION 'wrong expected revision' USING ERRCODE = 'SLU01', DETAIL = coalesce(v_actual, -1)::text;
      END IF;

      INSERT INTO events (global_position, transaction_id, stream_id, stream_revision, event_id, type, data, metadata)
      SELECT v_first + e.ord - 1, pg_current_xact_id(), p_stream, v_next - n + e.ord, e.id, e.type, e.data, e.metadata
      FROM unnest(p_ids, p_types, p_data, p_metadata) WITH ORDINALITY AS e(id, type, data, metadata, ord);

      RETURN QUERY SELECT v_first, v_first + n - 1, v_next;
    END $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP FUNCTION sluice_append`.execute(db);
  await sql`DROP TABLE streams`.execute(db);
  await sql`DROP TABLE events`.execute(db);
  await sql`DROP FUNCTION sluice_events_immutable`.execute(db);
  await sql`DROP SEQUENCE events_position_seq`.execute(db);
}
