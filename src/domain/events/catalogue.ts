/**
 * The event catalogue: every event Sluice records, as one discriminated union on `type`.
 * Each member is a TypeBox schema, so the union is at once the runtime validator and the
 * TypeScript type. Add new events here (one file per aggregate beside this one).
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { NewEvent, RecordedEvent } from '../event-store.js';
import type { EventMetadata } from './envelope.js';
import './formats.js';
import { ApplicationEnabledChanged, ApplicationRegistered } from './application-events.js';
import { AuditQueried } from './audit-events.js';
import {
  SignInAttemptsRefused,
  SignInBanLifted,
  SignInBanned,
  SignInFailuresSummarized,
} from './defender-events.js';
import {
  DeliveryAttempted,
  DeliveryAttemptFailed,
  DeliveryDeadLettered,
  DeliveryRequeued,
  DeliveryScheduled,
  DeliverySucceeded,
  UploadScanned,
} from './delivery-events.js';
import {
  AccessDenied,
  ConnectionAttemptsSummarized,
  ConnectionClosed,
  ConnectionOpened,
  ConnectionRefused,
  DirectoryCreated,
  DirectoryRemoved,
  DownloadStarted,
  FileAttributesChanged,
  FileChangeUndone,
  FileDeleted,
  FileDownloaded,
  FileRenamed,
  FileUploaded,
  UploadAborted,
} from './file-events.js';
import { FlowDefined, FlowRemoved } from './flow-events.js';
import { TreeHeadSigned } from './log-events.js';
import { NotifierDefined, NotifierRemoved } from './notifier-events.js';
import { ServerStarted, ServerStopped } from './server-events.js';
import {
  SessionClosed,
  SessionExpired,
  SessionOpened,
  SessionReplaced,
  SessionReused,
  SessionSlotClaimed,
  SignInFailed,
  TicketRedeemed,
} from './session-events.js';
import {
  UniqueValueReleased,
  UniqueValueReserved,
  UserCreated,
  UserDeleted,
  UserDisabled,
  UserEnabled,
  UserIdAllocated,
  UserKeyAdded,
  UserKeyRemoved,
  UserPasswordChanged,
  UserUpdated,
} from './user-events.js';

const schemas = {
  ServerStarted,
  ServerStopped,
  ApplicationRegistered,
  ApplicationEnabledChanged,
  UserIdAllocated,
  UniqueValueReserved,
  UniqueValueReleased,
  UserCreated,
  UserUpdated,
  UserPasswordChanged,
  UserDisabled,
  UserEnabled,
  UserDeleted,
  UserKeyAdded,
  UserKeyRemoved,
  SessionOpened,
  SessionSlotClaimed,
  SessionReplaced,
  SessionReused,
  SessionClosed,
  SessionExpired,
  SignInFailed,
  TicketRedeemed,
  SignInBanned,
  SignInBanLifted,
  SignInAttemptsRefused,
  SignInFailuresSummarized,
  ConnectionOpened,
  ConnectionClosed,
  ConnectionRefused,
  ConnectionAttemptsSummarized,
  FileUploaded,
  DownloadStarted,
  FileDownloaded,
  FileDeleted,
  FileRenamed,
  DirectoryCreated,
  DirectoryRemoved,
  FileAttributesChanged,
  FileChangeUndone,
  UploadAborted,
  AccessDenied,
  AuditQueried,
  TreeHeadSigned,
  FlowDefined,
  FlowRemoved,
  NotifierDefined,
  NotifierRemoved,
  DeliveryScheduled,
  DeliveryAttempted,
  DeliveryAttemptFailed,
  DeliverySucceeded,
  DeliveryDeadLettered,
  DeliveryRequeued,
  UploadScanned,
} as const;

type Schemas = typeof schemas;
export type DomainEventType = keyof Schemas;
export type DomainEvent = { [K in DomainEventType]: Static<Schemas[K]> }[DomainEventType];
export type EventOfType<K extends DomainEventType> = Extract<DomainEvent, { type: K }>;

/** A recorded event whose type and data were checked against the catalogue. */
export type RecordedDomainEvent = Omit<RecordedEvent, 'type' | 'data'> & DomainEvent;

export const eventTypes = Object.keys(schemas) as DomainEventType[];

const checkers = Object.fromEntries(
  Object.entries(schemas).map(([type, schema]) => [type, TypeCompiler.Compile(schema as TSchema)]),
) as Record<DomainEventType, ReturnType<typeof TypeCompiler.Compile>>;

export function isDomainEventType(type: string): type is DomainEventType {
  return Object.hasOwn(schemas, type);
}

export class InvalidEvent extends Error {
  override readonly name = 'InvalidEvent';
}

/** Checks an event against its schema; throws `InvalidEvent` naming the first problem. */
export function validateEvent(event: { type: string; data: unknown }): DomainEvent {
  if (!isDomainEventType(event.type)) throw new InvalidEvent(`unknown event type ${event.type}`);
  const checker = checkers[event.type];
  const candidate = { type: event.type, data: event.data };
  if (!checker.Check(candidate)) {
    const first = checker.Errors(candidate).First();
    throw new InvalidEvent(`${event.type}: ${first ? `${first.path} ${first.message}` : 'invalid'}`);
  }
  return candidate as DomainEvent;
}

/** Reads a recorded event as a domain event, or undefined when its type is not in the catalogue. */
export function asDomainEvent(recorded: RecordedEvent): RecordedDomainEvent | undefined {
  if (!isDomainEventType(recorded.type)) return undefined;
  validateEvent(recorded);
  return recorded as RecordedDomainEvent;
}

/** A domain event ready for `appendToStream`, checked against its schema first. */
export function toNewEvent(event: DomainEvent, metadata: EventMetadata, eventId?: string): NewEvent {
  const checked = validateEvent(event);
  return { type: checked.type, data: checked.data, metadata, ...(eventId === undefined ? {} : { eventId }) };
}
