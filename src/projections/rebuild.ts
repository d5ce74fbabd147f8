/**
 * Rebuilds one projection from position 0 while the server runs, without ever showing a
 * half-built table to queries:
 *
 * 1. a scratch schema gets an empty copy of each owned table
 *    (`CREATE TABLE scratch.t (LIKE live.t INCLUDING ALL)`, then the indexes are renamed to
 *    the live names, which LIKE does not keep);
 * 2. every event is replayed into the copies in short transactions, one per batch, with the
 *    projection writing through `trx.withSchema(scratch)` (and `search_path` set to the
 *    scratch schema, for raw SQL);
 * 3. one transaction locks the checkpoint row (live runners in every process wait on it),
 *    replays the tail up to the live checkpoint, drops the live tables, moves the copies into
 *    the live schema, sets the checkpoint and drops the scratch schema.
 *
 * Queries see the old rows until that commit and the rebuilt ones after it, never less than
 * the live checkpoint had. Step 3's DROP waits for queries still reading the old tables; it
 * gives up after `lockTimeoutMs` and tries again (the replayed copies are kept).
 *
 * Carried over by LIKE … INCLUDING ALL: columns, defaults, identity, NOT NULL and CHECK
 * constraints (with their names), indexes and primary/unique/exclusion constraints (renamed
 * here to their live names), comments, storage, compression. Not carried over: foreign keys,
 * triggers, grants, row security policies, and the sequence behind a `serial` column (its
 * default would keep pointing at the live table's sequence, which DROP TABLE then refuses),
 * so projection tables must not use them. Extended statistics get new names.
 */
import { randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { ReadModel } from '../adapters/readmodel/schema.js';
import type { EventStore, RecordedEvent } from '../domain/event-store.js';
import { ensureCheckpoint, lockCheckpoint, setCheckpoint } from './checkpoints.js';
import { handledEvents, type Projection } from './projection.js';

export interface RebuildLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface RebuildOptions {
  readonly store: EventStore;
  readonly db: Kysely<ReadModel>;
  readonly projection: Projection;
  readonly batchSize: number;
  readonly logger?: RebuildLogger;
  /** How long the swap may wait for readers of the live tables before retrying; default 5 s. */
  readonly lockTimeoutMs?: number;
  /** Swap attempts before giving up; default 10. */
  readonly swapAttempts?: number;
  /** Replay passes chasing the head before the swap replays the rest under the lock; default 10. */
  readonly maxCatchUpPasses?: number;
  /** Test seam: runs after the replay in short transactions, before the swap transaction. */
  readonly beforeSwap?: () => Promise<void>;
}

interface IndexRow {
  name: string;
  key: string;
}

/** SQLSTATE lock_not_available: `lock_timeout` expired. */
const LOCK_NOT_AVAILABLE = '55P03';

function pgCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

async function listIndexes(db: Kysely<ReadModel>, schema: string, table: string): Promise<IndexRow[]> {
  const result = await sql<{
    name: string;
    contype: string;
    primary: boolean;
    unique: boolean;
    exclusion: boolean;
    def: string;
  }>`
    SELECT c.relname AS name, coalesce(con.contype::text, '') AS contype, i.indisprimary AS primary,
      i.indisunique AS unique, i.indisexclusion AS exclusion, pg_get_indexdef(i.indexrelid) AS def
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
    WHERE i.indrelid = to_regclass(format('%I.%I', ${schema}::text, ${table}::text))
    ORDER BY c.relname`.execute(db);
  return result.rows.map((r) => {
    // "CREATE [UNIQUE] INDEX name ON schema.table USING method (...) [WHERE ...]": compare
    // what follows the table, which names neither the index nor the schema.
    const using = r.def.indexOf(' USING ');
    return {
      name: r.name,
      key: [r.contype, r.primary, r.unique, r.exclusion, using < 0 ? r.def : r.def.slice(using)].join('|'),
    };
  });
}

/**
 * LIKE … INCLUDING INDEXES names the copies by the default rules; renames them (and so the
 * constraints they back) to the live names, so later migrations still find them by name.
 */
async function restoreIndexNames(
  db: Kysely<ReadModel>,
  live: string,
  scratch: string,
  table: string,
): Promise<void> {
  const originals = await listIndexes(db, live, table);
  const copies = await listIndexes(db, scratch, table);
  const renames: Array<{ from: string; to: string }> = [];
  for (const original of originals) {
    const index = copies.findIndex((c) => c.key === original.key);
    if (index < 0)
      throw new Error(`rebuild: no copy of index ${live}.${original.name} on ${scratch}.${table}`);
    const [copy] = copies.splice(index, 1);
    if (copy && copy.name !== original.name) renames.push({ from: copy.name, to: original.name });
  }
  // Two steps, so that a copy's generated name may equal another index's live name.
  for (const [i, r] of renames.entries()) {
    await sql`ALTER INDEX ${sql.id(scratch, r.from)} RENAME TO ${sql.id(`sluice_rebuild_tmp_${i}`)}`.execute(
      db,
    );
  }
  for (const [i, r] of renames.entries()) {
    await sql`ALTER INDEX ${sql.id(scratch, `sluice_rebuild_tmp_${i}`)} RENAME TO ${sql.id(r.to)}`.execute(
      db,
    );
  }
}

/** Applies `batch` to the scratch copies inside `trx`. */
async function replayInto(
  trx: Kysely<ReadModel>,
  scratch: string,
  projection: Projection,
  batch: readonly RecordedEvent[],
): Promise<void> {
  const handled = handledEvents(projection, batch);
  if (handled.length === 0) return;
  await sql`SELECT set_config('search_path', ${scratch}, true)`.execute(trx);
  await projection.apply(trx.withSchema(scratch), handled);
}

/** Rebuilds `projection`'s tables from position 0; resolves with the checkpoint it set. */
export async function rebuildProjection(options: RebuildOptions): Promise<number> {
  const { store, db, projection, batchSize, logger } = options;
  const lockTimeoutMs = options.lockTimeoutMs ?? 5000;
  const swapAttempts = options.swapAttempts ?? 10;
  const maxPasses = options.maxCatchUpPasses ?? 10;
  const name = projection.name;
  const started = Date.now();

  const liveRow = await sql<{ schema: string | null }>`SELECT current_schema() AS schema`.execute(db);
  const live = liveRow.rows[0]?.schema;
  if (!live) throw new Error('rebuild: no current schema (check search_path)');
  await ensureCheckpoint(db, name);

  const scratch = `sluice_rebuild_${randomBytes(6).toString('hex')}`;
  await sql`CREATE SCHEMA ${sql.id(scratch)}`.execute(db);
  try {
    for (const table of projection.tables) {
      await sql`CREATE TABLE ${sql.id(scratch, table)} (LIKE ${sql.id(live, table)} INCLUDING ALL)`.execute(
        db,
      );
      await restoreIndexNames(db, live, scratch, table);
    }

    // Replay in short transactions, chasing the head while appends continue.
    let position = 0;
    for (let pass = 0; pass < maxPasses; pass += 1) {
      const head = await store.headPosition();
      if (pass > 0 && head - position <= batchSize) break;
      while (position < head) {
        const batch = await store.readAll({ after: position, limit: batchSize });
        const last = batch.at(-1);
        if (!last) break;
        await db.transaction().execute((trx) => replayInto(trx, scratch, projection, batch));
        position = last.globalPosition;
      }
    }
    for (const table of projection.tables) {
      await sql`ANALYZE ${sql.id(scratch, table)}`.execute(db);
    }

    await options.beforeSwap?.();
    for (let attempt = 1; ; attempt += 1) {
      try {
        const final = await db.transaction().execute(async (trx) => {
          const checkpoint = await lockCheckpoint(trx, name);
          const saved = await sql<{ path: string }>`SELECT current_setting('search_path') AS path`.execute(
            trx,
          );
          let tail = position;
          while (tail < checkpoint) {
            const batch = await store.readAll({ after: tail, limit: batchSize });
            const last = batch.at(-1);
            if (!last) throw new Error(`rebuild ${name}: the event store returned nothing after ${tail}`);
            await replayInto(trx, scratch, projection, batch);
            tail = last.globalPosition;
          }
          await sql`SELECT set_config('search_path', ${saved.rows[0]?.path ?? ''}, true)`.execute(trx);
          await sql`SELECT set_config('lock_timeout', ${`${lockTimeoutMs}ms`}, true)`.execute(trx);
          for (const table of projection.tables) {
            await sql`DROP TABLE ${sql.id(live, table)}`.execute(trx);
          }
          for (const table of projection.tables) {
            await sql`ALTER TABLE ${sql.id(scratch, table)} SET SCHEMA ${sql.id(live)}`.execute(trx);
          }
          await sql`DROP SCHEMA ${sql.id(scratch)}`.execute(trx);
          await setCheckpoint(trx, name, tail);
          return tail;
        });
        logger?.info(
          { projection: name, position: final, seconds: (Date.now() - started) / 1000 },
          'projection rebuilt',
        );
        return final;
      } catch (error) {
        if (pgCode(error) !== LOCK_NOT_AVAILABLE || attempt >= swapAttempts) throw error;
        logger?.warn(
          { projection: name, attempt, err: error },
          'rebuild: live tables busy; retrying the swap',
        );
        await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, 5000)));
      }
    }
  } catch (error) {
    await sql`DROP SCHEMA IF EXISTS ${sql.id(scratch)} CASCADE`.execute(db).catch(() => undefined);
    throw error;
  }
}
