/**
 * Incremental SFTP packet framing over a byte stream: uint32 length, then `length` bytes
 * (type byte + body). A packet inside one chunk is returned as a view on it (no copy); one
 * spanning chunks is copied once.
 */

export class FramingError extends Error {
  override readonly name = 'FramingError';
}

/** The shortest packet: a type byte and a uint32 (a request id, or INIT's version). */
const MIN_PACKET_LENGTH = 5;

export class PacketFramer {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxPacketLength: number) {}

  /** Bytes received but not yet returned as packets. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** The next complete packet (type byte first, length field stripped), or null if incomplete. */
  next(): Buffer | null {
    if (this.buffered < 4) return null;
    const length = this.peekLength();
    if (length < MIN_PACKET_LENGTH || length > this.maxPacketLength) {
      throw new FramingError(`packet length ${length} outside ${MIN_PACKET_LENGTH}..${this.maxPacketLength}`);
    }
    if (this.buffered < 4 + length) return null;
    this.skip(4);
    return this.take(length);
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readUInt32BE(0);
    const head = Buffer.allocUnsafe(4);
    let filled = 0;
    for (const chunk of this.chunks) {
      filled += chunk.copy(head, filled, 0, Math.min(chunk.length, 4 - filled));
      if (filled === 4) break;
    }
    return head.readUInt32BE(0);
  }

  private skip(n: number): void {
    let left = n;
    while (left > 0) {
      const first = this.chunks[0]!;
      if (first.length <= left) {
        this.chunks.shift();
        left -= first.length;
      } else {
        this.chunks[0] = first.subarray(left);
        left = 0;
      }
    }
    this.buffered -= n;
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) {
      const packet = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return packet;
    }
    const packet = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0]!;
      const count = Math.min(chunk.length, n - filled);
      chunk.copy(packet, filled, 0, count);
      filled += count;
      if (count === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(count);
    }
    this.buffered -= n;
    return packet;
  }
}
