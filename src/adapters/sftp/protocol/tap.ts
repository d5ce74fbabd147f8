/**
 * A debug tap on SFTP sessions, for recording what real clients put on the wire (the protocol
 * corpus under test/sftp-protocol/corpus). Process-wide and off by default: while no tap is set,
 * a session pays one null check per packet.
 */
import type { Reply } from './responses.js';

export interface PacketTap {
  /** Every packet a session receives (type byte first), with the session's number. */
  received(session: number, packet: Buffer): void;
  /** Every reply a session sends (type byte first; of a reply in parts, the first part). */
  sent(session: number, reply: Buffer): void;
}

let current: PacketTap | null = null;
let sessions = 0;

/** Sets the tap; returns the function that removes it again. */
export function tapPackets(tap: PacketTap): () => void {
  current = tap;
  return () => {
    if (current === tap) current = null;
  };
}

/** A number for a new session: 1, 2, … in start order within this process. */
export function nextTapSession(): number {
  sessions += 1;
  return sessions;
}

export function tapReceived(session: number, packet: Buffer): void {
  if (current !== null) current.received(session, packet);
}

export function tapSent(session: number, reply: Reply): void {
  if (current === null) return;
  const first = Buffer.isBuffer(reply) ? reply : reply[0];
  if (first !== undefined) current.sent(session, first.subarray(4));
}
