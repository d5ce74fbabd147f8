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
