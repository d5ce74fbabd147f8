/**
 * Checkpoint rows (`projection_checkpoints`): the global position a projection's rows
 * include. Every write of a projection's rows happens in a transaction that first locks its
 * checkpoint row, so concurrent runners (in any process) and rebuilds serialise on it.
 */
import { type Kysely, sql } from 'kysely';
import type { ReadModel } from '../adapters/readmodel/schema.js';

/** Creates the checkpoint row at position 0 unless it exists. */
export async function ensureCheckpoint(db: Kysely<ReadModel>, name: string): Promise<void> {
  await db
    .insertInto('projection_checkpoints')
    .values({ name, position: 0 })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
}

/** Locks the checkpoint row until `trx` ends and returns its position. */
export async function lockCheckpoint(trx: Kysely<ReadModel>, name: string): Promise<number> {
  const row = await trx
    .selectFrom('projection_checkpoints')
    .select('position')
    .where('name', '=', name)
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw new Error(`projection ${name} has no checkpoint row`);
  return Number(row.position);
}

/**
 * Locks the checkpoint rows of `names` until `trx` ends, in name order (so that transactions
 * locking several never deadlock), and returns their positions. The transaction's commit
 * then need not wait for the WAL flush (synchronous_commit off): a crash may lose the last
 * batches, rows and checkpoints together, and the runner replays them, exactly once.
 */
export async function lockCheckpoints(
  trx: Kysely<ReadModel>,
  names: readonly string[],
): Promise<Map<string, number>> {
  const result = await sql<{ name: string; position: string }>`
    SELECT name, position, set_config('synchronous_commit', 'off', true) AS async_commit
    FROM projection_checkpoints WHERE name = ANY(${[...names]}::text[])
    ORDER BY name FOR UPDATE`.execute(trx);
  const positions = new Map(result.rows.map((r) => [r.name, Number(r.position)]));
  for (const name of names) {
    if (!positions.has(name)) throw new Error(`projection ${name} has no checkpoint row`);
  }
  return positions;
}

/** Moves several checkpoints in one statement. */
export async function setCheckpoints(
  trx: Kysely<ReadModel>,
  moves: ReadonlyArray<{ readonly name: string; readonly position: number }>,
): Promise<void> {
  if (moves.length === 0) return;
  await sql`
    UPDATE projection_checkpoints AS c SET position = m.position, updated_at = now()
    FROM unnest(${moves.map((m) => m.name)}::text[], ${moves.map((m) => m.position)}::bigint[])
      AS m(name, position)
    WHERE c.name = m.name`.execute(trx);
}

export async function setCheckpoint(trx: Kysely<ReadModel>, name: string, position: number): Promise<void> {
  await trx
    .updateTable('projection_checkpoints')
    .set({ position, updated_at: sql<Date>`now()` })
    .where('name', '=', name)
    .execute();
}

export async function readCheckpoint(db: Kysely<ReadModel>, name: string): Promise<number> {
  const row = await db
    .selectFrom('projection_checkpoints')
    .select('position')
    .where('name', '=', name)
    .executeTakeFirst();
  return Number(row?.position ?? 0);
}
