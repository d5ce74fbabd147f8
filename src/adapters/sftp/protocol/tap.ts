/**
 * A debug tap on the packets clients send, for recording what real SFTP clients put on the
 * wire (the protocol corpus under test/sftp-protocol/corpus). Process-wide and off by default:
 * while no tap is set, a session pays one null check per packet.
 */

/** Called with each session's number (1, 2, … in this process) and every packet it receives. */
export type PacketTap = (session: number, packet: Buffer) => void;

let current: PacketTap | null = null;
let sessions = 0;

/** Sets the tap; returns the function that removes it again. */
export function tapInboundPackets(tap: PacketTap): () => void {
  current = tap;
  return () => {
    if (current === tap) current = null;
  };
}

/** A number for a new session, in start order. */
export function nextTapSession(): number {
  sessions += 1;
  return sessions;
}

/** Hands a received packet (type byte first) to the tap, if one is set. */
export function tapPacket(session: number, packet: Buffer): void {
  if (current !== null) current(session, packet);
}
