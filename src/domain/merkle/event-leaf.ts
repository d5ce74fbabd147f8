/**
 * The bytes of one event as a leaf of the log's Merkle tree: the canonical JSON (RFC 8785) of
 *
 *   { "data", "eventId", "metadata", "position", "recordedAt", "revision", "stream", "type" }
 *
 * with `position` the global position, `stream` and `revision` the stream and the revision in
 * it, `eventId` the UUID in lower case, `type`, `data` and `metadata` as recorded, and
 * `recordedAt` the recording time in UTC with milliseconds (`2026-01-02T03:04:05.678Z`; finer
 * digits a store keeps are left out), encoded as UTF-8. Everything the store holds of an event
 * is in it, so no field can change without changing the leaf. docs/tamper-evidence.md shows
 * how to recompute it without Sluice.
 */
import type { RecordedEvent } from '../event-store.js';
import { canonicalJson } from './canonical-json.js';
import { leafHash } from './tree-hash.js';

export function canonicalEvent(event: RecordedEvent): string {
  return canonicalJson({
    data: event.data ?? null,
    eventId: event.eventId.toLowerCase(),
    metadata: event.metadata,
    position: event.globalPosition,
    recordedAt: event.recordedAt.toISOString(),
    revision: event.streamRevision,
    stream: event.streamId,
    type: event.type,
  });
}

/** The event's leaf hash: SHA-256(0x00 ‖ its canonical bytes). */
export function eventLeafHash(event: RecordedEvent): Buffer {
  return leafHash(Buffer.from(canonicalEvent(event), 'utf8'));
}
