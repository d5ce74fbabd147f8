/**
 * The `files` view: the files each user has now, with size, sha256, who wrote them last and
 * in which session. Serves the HTTP API's ETag and anyone asking "what is there".
 */
import { type Insertable, type Kysely, sql } from 'kysely';
import { likePrefix } from '../adapters/readmodel/like-prefix.js';
import type { ReadModel } from '../adapters/readmodel/schema.js';
import type { RecordedDomainEvent } from '../domain/events/catalogue.js';
import type { Projection } from './projection.js';

type FileRow = Insertable<ReadModel['files']>;

async function apply(trx: Kysely<ReadModel>, events: readonly RecordedDomainEvent[]): Promise<void> {
  // Uploads in a row are written in one statement (the last one of a name wins); a delete or a
  // rename writes the uploads before it first.
  const uploads = new Map<string, FileRow>();
  const writeUploads = async () => {
    if (uploads.size === 0) return;
    const rows = [...uploads.values()];
    uploads.clear();
    await trx
      .insertInto('files')
      .values(rows)
      .onConflict((oc) =>
        oc.columns(['user_id', 'path']).doUpdateSet((eb) => ({
          size: eb.ref('excluded.size'),
          sha256: eb.ref('excluded.sha256'),
          last_writer_user_id: eb.ref('excluded.last_writer_user_id'),
          last_session_id: eb.ref('excluded.last_session_id'),
          last_application_id: eb.ref('excluded.last_application_id'),
          last_protocol: eb.ref('excluded.last_protocol'),
          updated_at: eb.ref('excluded.updated_at'),
          updated_position: eb.ref('excluded.updated_position'),
        })),
      )
      .execute();
  };
  for (const event of events) {
    const actor = event.metadata.actor;
    if (actor.userId === undefined) continue;
    const userId = actor.userId;
    switch (event.type) {
      case 'FileUploaded':
        uploads.set(`${userId}\0${event.data.path}`, {
          user_id: userId,
          path: event.data.path,
          size: event.data.size,
          sha256: event.data.sha256,
          last_writer_user_id: userId,
          last_session_id: actor.sessionId ?? null,
          last_application_id: actor.applicationId ?? null,
          last_protocol: event.data.protocol,
          updated_at: event.recordedAt,
          updated_position: event.globalPosition,
        });
        break;
      case 'FileDeleted':
        await writeUploads();
        await trx
          .deleteFrom('files')
          .where('user_id', '=', userId)
          .where('path', '=', event.data.path)
          .execute();
        break;
      case 'FileRenamed': {
        await writeUploads();
        const { from, to } = event.data;
        // The target is replaced (posix-rename), then the file — or a folder's contents — moves.
        await trx
          .deleteFrom('files')
          .where('user_id', '=', userId)
          .where((eb) => eb.or([eb('path', '=', to), eb('path', 'like', likePrefix(`${to}/`))]))
          .execute();
        await trx
          .updateTable('files')
          .set({
            path: sql<string>`${to} || substr(path, ${from.length + 1})`,
            updated_at: event.recordedAt,
            updated_position: event.globalPosition,
          })
          .where('user_id', '=', userId)
          .where((eb) => eb.or([eb('path', '=', from), eb('path', 'like', likePrefix(`${from}/`))]))
          .execute();
        break;
      }
    }
  }
  await writeUploads();
}

export const filesProjection: Projection = {
  name: 'files',
  handles: ['FileUploaded', 'FileDeleted', 'FileRenamed'],
  tables: ['files'],
  apply,
};

/** What the view knows of one file: its size and sha256 as last uploaded, and when recorded. */
export async function fileDigest(
  db: Kysely<ReadModel>,
  userId: number,
  path: string,
): Promise<{ size: number; sha256: string; updatedAt: Date } | undefined> {
  const row = await db
    .selectFrom('files')
    .select(['size', 'sha256', 'updated_at'])
    .where('user_id', '=', userId)
    .where('path', '=', path)
    .executeTakeFirst();
  return row
    ? { size: Number(row.size), sha256: row.sha256, updatedAt: new Date(row.updated_at) }
    : undefined;
}

/** The bytes a user stores, as the view knows them (the sum of the sizes of their files). */
export async function storedBytes(db: Kysely<ReadModel>, userId: number): Promise<number> {
  const row = await db
    .selectFrom('files')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<string>('size'), sql<string>`0`).as('total'))
    .where('user_id', '=', userId)
    .executeTakeFirstOrThrow();
  return Number(row.total);
}
