/**
 * The sha256 of an upload, computed while its writes arrive, so CLOSE need not read the file
 * back. Writes at the next offset are hashed at once; a write a little ahead (pipelined
 * requests that arrive out of order) is held, copied, until the gap before it is filled, within
 * `maxAheadBytes`. A write over bytes already hashed, overlapping pieces, or more held than the
 * budget give up: `digestOf` then answers null and the caller reads the file back once.
 */
import { createHash, type Hash } from 'node:crypto';

export const DEFAULT_MAX_AHEAD_BYTES = 16 * 1024 * 1024;

export class StreamingDigest {
  private readonly hash: Hash = createHash('sha256');
  private next = 0;
  private broken = false;
  private readonly ahead = new Map<number, Buffer>();
  private aheadBytes = 0;

  constructor(private readonly maxAheadBytes = DEFAULT_MAX_AHEAD_BYTES) {}

  /** Bytes hashed so far (from offset 0, contiguous). */
  get hashedBytes(): number {
    return this.next;
  }

  /** Whether the streaming hash still holds (else the file must be read back). */
  get intact(): boolean {
    return !this.broken;
  }

  /** The data was not written by this upload alone (a resumed file): no streaming hash. */
  giveUp(): void {
    this.broken = true;
    this.ahead.clear();
    this.aheadBytes = 0;
  }

  update(offset: number, data: Buffer): void {
    if (this.broken || data.length === 0) return;
    if (offset < this.next) {
      this.giveUp();
      return;
    }
    if (offset > this.next) {
      if (this.ahead.has(offset) || this.aheadBytes + data.length > this.maxAheadBytes) {
        this.giveUp();
        return;
      }
      // Copied: the caller's buffer may be a view on a packet that is reused.
      this.ahead.set(offset, Buffer.from(data));
      this.aheadBytes += data.length;
      return;
    }
    this.hash.update(data);
    this.next += data.length;
    for (let piece = this.ahead.get(this.next); piece; piece = this.ahead.get(this.next)) {
      this.ahead.delete(this.next);
      this.aheadBytes -= piece.length;
      this.hash.update(piece);
      this.next += piece.length;
    }
  }

  /**
   * The hex sha256 of a file of `size` bytes when every byte of it was hashed here exactly once,
   * in order; null when the file must be read back (out-of-order writes that left holes or
   * overlaps, rewrites, a resumed file).
   */
  digestOf(size: number): string | null {
    if (this.broken || this.ahead.size > 0 || this.next !== size) return null;
    this.broken = true; // a Hash can be digested once
    return this.hash.digest('hex');
  }
}
