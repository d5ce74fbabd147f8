/** Applies ordered migration sets with Kysely's Migrator (safe when several processes start at once). */
import { type Kysely, type Migration, Migrator } from 'kysely';

export async function migrate<DB>(
  db: Kysely<DB>,
  set: { name: string; migrations: Record<string, Migration> },
): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => set.migrations },
    migrationTableName: `${set.name}_migrations`,
    migrationLockTableName: `${set.name}_migrations_lock`,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${set.name} migration ${failed?.migrationName ?? ''} failed: ${message}`);
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
