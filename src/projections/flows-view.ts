/**
 * The `flows` view, and the reaction that dispatches files to flows (docs/flows.md).
 *
 * It keeps each flow's definition and the files a flow holds back until a trigger file
 * releases them, and for every complete upload (FileUploaded; with an upload scan configured,
 * the scan's clean verdict instead) it schedules a delivery per flow that takes the file: at
 * once, or when its trigger arrives. Scheduling appends `DeliveryScheduled` to a stream whose
 * id derives from the flow and the causing event, inside the batch's transaction: a batch
 * replayed after a crash (or by a rebuild) schedules nothing twice, since the stream exists.
 * Everything it decides is read from its own tables at the batch's position, so a replay
 * decides the same: even whether uploads are scanned first, which it takes from the
 * configuration each ServerStarted records (`uploadScan.kind`), not from the process that
 * happens to replay.
 */
import type { Kysely } from 'kysely';
import { likePrefix } from '../adapters/readmodel/like-prefix.js';
import type { ReadModel } from '../adapters/readmodel/schema.js';
import { deliveryIdOf } from '../domain/deliveries/delivery-id.js';
import type { EventOfType, RecordedDomainEvent } from '../domain/events/catalogue.js';
import type { FlowDefinition } from '../domain/flows/flow.js';
import { roleOf } from '../domain/flows/flow-rules.js';
import type { DomainProjection } from './projection.js';

export type ScheduledDelivery = EventOfType<'DeliveryScheduled'>['data'];
type DeliveryFile = NonNullable<ScheduledDelivery['file']>;

/** Schedules deliveries: appends each one's DeliveryScheduled unless its stream exists. */
export interface DeliveryScheduler {
  schedule(deliveries: readonly ScheduledDelivery[]): Promise<void>;
}

export interface FlowsViewOptions {
  readonly scheduler: DeliveryScheduler;
}

/** Whether a server started with an upload scan (flows then take a file once it is found clean). */
const scansUploads = (configuration: Readonly<Record<string, unknown>> | undefined): boolean =>
  typeof configuration?.['uploadScan.kind'] === 'string';

/** The owner of scan deliveries (they belong to no flow). */
export const SCAN_OWNER = 'upload-scan';

const causeOf = (event: RecordedDomainEvent): ScheduledDelivery['cause'] => ({
  eventId: event.eventId,
  position: event.globalPosition,
  type: event.type,
});

export function flowsView(options: FlowsViewOptions): DomainProjection {
  return {
    name: 'flows',
    handles: [
      'ServerStarted',
      'FlowDefined',
      'FlowRemoved',
      'FileUploaded',
      'UploadScanned',
      'FileDeleted',
      'FileRenamed',
    ],
    tables: ['flows', 'flow_waiting_files', 'flow_scan_setting'],
    async apply(trx: Kysely<ReadModel>, events) {
      let scanning =
        (await trx.selectFrom('flow_scan_setting').select('scanning').where('id', '=', 1).executeTakeFirst())
          ?.scanning ?? false;
      const scheduled: ScheduledDelivery[] = [];
      const schedule = (event: RecordedDomainEvent, flowId: string, file: DeliveryFile, ...key: string[]) =>
        scheduled.push({
          deliveryId: deliveryIdOf('flow', flowId, event.eventId, ...key),
          kind: 'flow',
          ownerId: flowId,
          cause: causeOf(event),
          file,
        });

      /** A complete (and, when scanning, clean) upload: the flows of its user that take it. */
      /** Each source user's flows, read once per batch (forgotten when a flow changes in it). */
      const flowsOf = new Map<number, Promise<FlowDefinition[]>>();
      const flowsFrom = (userId: number) => {
        let flows = flowsOf.get(userId);
        if (!flows) {
          flows = trx
            .selectFrom('flows')
            .select('definition')
            .where('source_user_id', '=', userId)
            .where('removed_at', 'is', null)
            .orderBy('defined_position')
            .execute()
            .then((rows) => rows.map((row) => row.definition as FlowDefinition));
          flowsOf.set(userId, flows);
        }
        return flows;
      };

      const completed = async (event: RecordedDomainEvent, file: DeliveryFile) => {
        for (const flow of await flowsFrom(file.userId)) {
          const role = roleOf(flow, file.path);
          if (role.role === 'ignored') continue;
          if (role.role === 'file') {
            if (flow.trigger === null) {
              schedule(event, flow.flowId, file);
              continue;
            }
            await trx
              .insertInto('flow_waiting_files')
              .values({
                flow_id: flow.flowId,
                path: file.path,
                user_id: file.userId,
                size: file.size,
                sha256: file.sha256,
                uploaded_position: event.globalPosition,
              })
              .onConflict((oc) =>
                oc.columns(['flow_id', 'path']).doUpdateSet((eb) => ({
                  size: eb.ref('excluded.size'),
                  sha256: eb.ref('excluded.sha256'),
                  uploaded_position: eb.ref('excluded.uploaded_position'),
                })),
              )
              .execute();
            continue;
          }
          // A trigger file: release what waits for it.
          let query = trx.deleteFrom('flow_waiting_files').where('flow_id', '=', flow.flowId);
          query =
            'released' in role
              ? query.where('path', '=', role.released)
              : query.where('path', 'like', likePrefix(`${role.folder === '/' ? '' : role.folder}/`));
          const released = await query.returning(['path', 'user_id', 'size', 'sha256']).execute();
          const folderOf = (path: string) => path.slice(0, path.lastIndexOf('/')) || '/';
          for (const waiting of released.sort((a, b) => a.path.localeCompare(b.path))) {
            if ('folder' in role && folderOf(waiting.path) !== role.folder) {
              // Below a subfolder: waits for that folder's own trigger.
              await trx
                .insertInto('flow_waiting_files')
                .values({ ...waiting, flow_id: flow.flowId, uploaded_position: event.globalPosition })
                .execute();
              continue;
            }
            schedule(
              event,
              flow.flowId,
              {
                userId: waiting.user_id,
                path: waiting.path,
                size: Number(waiting.size),
                sha256: waiting.sha256,
              },
              waiting.path,
            );
          }
        }
      };

      for (const event of events) {
        switch (event.type) {
          case 'ServerStarted':
            if (scansUploads(event.data.configuration) === scanning) break;
            scanning = !scanning;
            await trx
              .insertInto('flow_scan_setting')
              .values({ id: 1, scanning, since_position: event.globalPosition })
              .onConflict((oc) =>
                oc.column('id').doUpdateSet({ scanning, since_position: event.globalPosition }),
              )
              .execute();
            break;
          case 'FlowDefined':
            flowsOf.clear();
            await trx
              .insertInto('flows')
              .values({
                flow_id: event.data.flowId,
                name: event.data.name,
                source_user_id: event.data.sourceUserId,
                source_folder: event.data.sourceFolder,
                definition: JSON.stringify(event.data),
                defined_at: event.recordedAt,
                defined_position: event.globalPosition,
              })
              .onConflict((oc) => oc.column('flow_id').doNothing())
              .execute();
            break;
          case 'FlowRemoved':
            flowsOf.clear();
            await trx
              .updateTable('flows')
              .set({ removed_at: event.recordedAt })
              .where('flow_id', '=', event.data.flowId)
              .execute();
            await trx.deleteFrom('flow_waiting_files').where('flow_id', '=', event.data.flowId).execute();
            break;
          case 'FileUploaded': {
            const userId = event.metadata.actor.userId;
            if (userId === undefined) break;
            const file = { userId, path: event.data.path, size: event.data.size, sha256: event.data.sha256 };
            // What a flow wrote was scanned where it came from.
            if (scanning && event.data.protocol !== 'flow') {
              scheduled.push({
                deliveryId: deliveryIdOf(SCAN_OWNER, event.eventId),
                kind: 'scan',
                ownerId: SCAN_OWNER,
                cause: causeOf(event),
                file,
              });
            } else {
              await completed(event, file);
            }
            break;
          }
          case 'UploadScanned':
            if (event.data.verdict === 'clean') await completed(event, event.data.file);
            break;
          case 'FileDeleted':
          case 'FileRenamed': {
            const userId = event.metadata.actor.userId;
            if (userId === undefined) break;
            const path = event.type === 'FileDeleted' ? event.data.path : event.data.from;
            await trx
              .deleteFrom('flow_waiting_files')
              .where('user_id', '=', userId)
              .where('path', '=', path)
              .execute();
            break;
          }
        }
      }
      if (scheduled.length > 0) await options.scheduler.schedule(scheduled);
    },
  };
}
