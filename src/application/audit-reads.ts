/**
 * Reading the audit trail is itself audited (PCI DSS 10.2.1): every query of the session and
 * audit views, export and live stream is recorded as AuditQueried — who asked, which filters —
 * before it is answered.
 */
import type { EventStore } from '../domain/event-store.js';
import { auditQueriesStream } from '../domain/events/audit-events.js';
import { type EventOfType, toNewEvent } from '../domain/events/catalogue.js';
import { metadataFor } from './metadata.js';
import type { RequestContext } from './ports.js';

export type AuditQuery = EventOfType<'AuditQueried'>['data'];

export class AuditReads {
  constructor(private readonly store: EventStore) {}

  /** Records the query; the caller answers only after it resolves. */
  async record(query: AuditQuery, context: RequestContext): Promise<void> {
    await this.store.appendToStream(
      auditQueriesStream(query.userId),
      [toNewEvent({ type: 'AuditQueried', data: query }, metadataFor(context))],
      { expectedRevision: 'any' },
    );
  }

  /** The log's head now: where a live stream that asks for no earlier events starts. */
  head(): Promise<number> {
    return this.store.headPosition();
  }
}
