/** What the flows, notifiers and deliveries views answer (admin API, the delivery worker's effects). */
import type { Kysely } from 'kysely';
import type { ReadModel } from '../adapters/readmodel/schema.js';
import type { DELIVERY_STATES } from '../domain/deliveries/delivery.js';
import type { EventOfType } from '../domain/events/catalogue.js';
import type { FlowDefinition } from '../domain/flows/flow.js';
import type { NotifierDefinition } from '../domain/flows/notifier.js';

export interface FlowRecord {
  readonly flow: FlowDefinition;
  readonly removed: boolean;
  readonly definedAt: Date;
  readonly position: number;
}

const flowRecord = (row: {
  definition: unknown;
  removed_at: Date | null;
  defined_at: Date;
  defined_position: string;
}): FlowRecord => ({
  flow: row.definition as FlowDefinition,
  removed: row.removed_at !== null,
  definedAt: row.defined_at,
  position: Number(row.defined_position),
});

const flowColumns = ['definition', 'removed_at', 'defined_at', 'defined_position'] as const;

export async function flowDefinition(db: Kysely<ReadModel>, flowId: string): Promise<FlowRecord | undefined> {
  const row = await db
    .selectFrom('flows')
    .select(flowColumns)
    .where('flow_id', '=', flowId)
    .executeTakeFirst();
  return row && flowRecord(row);
}

/** Flows not removed, in the order they were defined, after position `after`. */
export async function listFlows(db: Kysely<ReadModel>, after: number, limit: number): Promise<FlowRecord[]> {
  const rows = await db
    .selectFrom('flows')
    .select(flowColumns)
    .where('removed_at', 'is', null)
    .where('defined_position', '>', String(after))
    .orderBy('defined_position')
    .limit(limit)
    .execute();
  return rows.map(flowRecord);
}

type Scheduled = EventOfType<'DeliveryScheduled'>['data'];

export interface DeliveryRecord {
  readonly deliveryId: string;
  readonly kind: Scheduled['kind'];
  readonly ownerId: string;
  readonly state: (typeof DELIVERY_STATES)[number];
  readonly attempts: number;
  readonly dueAt: Date | null;
  readonly causePosition: number;
  readonly causeType: string;
  readonly file: Scheduled['file'];
  readonly lastError: string | null;
  readonly result: string | null;
  readonly scheduledAt: Date;
  readonly updatedAt: Date;
}

export interface DeliveryFilter {
  readonly state?: string | undefined;
  readonly ownerId?: string | undefined;
  readonly kind?: string | undefined;
}

/** Deliveries in the order of their causes, after (cause position, id) `after`. */
export async function listDeliveries(
  db: Kysely<ReadModel>,
  filter: DeliveryFilter,
  after: { position: number; id: string } | undefined,
  limit: number,
): Promise<DeliveryRecord[]> {
  let query = db.selectFrom('deliveries').selectAll();
  if (filter.state) query = query.where('state', '=', filter.state);
  if (filter.ownerId) query = query.where('owner_id', '=', filter.ownerId);
  if (filter.kind) query = query.where('kind', '=', filter.kind);
  if (after)
    query = query.where((eb) =>
      eb.or([
        eb('cause_position', '>', String(after.position)),
        eb.and([eb('cause_position', '=', String(after.position)), eb('delivery_id', '>', after.id)]),
      ]),
    );
  const rows = await query.orderBy('cause_position').orderBy('delivery_id').limit(limit).execute();
  return rows.map((row) => ({
    deliveryId: row.delivery_id,
    // The view stores what the events said: a kind, a state and a file of theirs.
    kind: row.kind as DeliveryRecord['kind'],
    ownerId: row.owner_id,
    state: row.state as DeliveryRecord['state'],
    attempts: row.attempts,
    dueAt: row.due_at,
    causePosition: Number(row.cause_position),
    causeType: row.cause_type,
    file: row.file as DeliveryRecord['file'],
    lastError: row.last_error,
    result: row.result,
    scheduledAt: row.scheduled_at,
    updatedAt: row.updated_at,
  }));
}

export interface NotifierRecord {
  readonly notifier: NotifierDefinition;
  readonly removed: boolean;
  readonly position: number;
}

const notifierRecord = (row: {
  notifier_id: string;
  name: string;
  filter: unknown;
  channel: unknown;
  removed_at: Date | null;
  defined_position: string;
}): NotifierRecord => ({
  notifier: {
    notifierId: row.notifier_id,
    name: row.name,
    filter: row.filter as NotifierDefinition['filter'],
    channel: row.channel as NotifierDefinition['channel'],
  },
  removed: row.removed_at !== null,
  position: Number(row.defined_position),
});

const notifierColumns = [
  'notifier_id',
  'name',
  'filter',
  'channel',
  'removed_at',
  'defined_position',
] as const;

export async function notifierDefinition(
  db: Kysely<ReadModel>,
  notifierId: string,
): Promise<NotifierRecord | undefined> {
  const row = await db
    .selectFrom('notifiers')
    .select(notifierColumns)
    .where('notifier_id', '=', notifierId)
    .executeTakeFirst();
  return row && notifierRecord(row);
}

/** Notifiers not removed, in the order they were defined, after position `after`. */
export async function listNotifiers(
  db: Kysely<ReadModel>,
  after: number,
  limit: number,
): Promise<NotifierRecord[]> {
  const rows = await db
    .selectFrom('notifiers')
    .select(notifierColumns)
    .where('removed_at', 'is', null)
    .where('defined_position', '>', String(after))
    .orderBy('defined_position')
    .limit(limit)
    .execute();
  return rows.map(notifierRecord);
}

/** How many deliveries are in each state. */
export async function deliveryCounts(db: Kysely<ReadModel>): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('deliveries')
    .select(['state', (eb) => eb.fn.countAll<string>().as('n')])
    .groupBy('state')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
}
