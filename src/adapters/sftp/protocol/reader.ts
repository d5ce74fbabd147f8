/** Bounds-checked reading of one SFTP packet body. Every read past the end throws `MalformedPacket`. */
import { isUtf8 } from 'node:buffer';

export class MalformedPacket extends Error {
  override readonly name = 'MalformedPacket';
}

export class PacketReader {
  private offset: number;

  constructor(
    private readonly buf: Buffer,
    offset = 0,
  ) {
    this.offset = offset;
  }

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  private need(n: number, what: string): void {
    if (this.remaining < n) throw new MalformedPacket(`truncated packet: ${what} runs past the end`);
  }

  u8(what = 'byte'): number {
    this.need(1, what);
    const value = this.buf[this.offset]!;
    this.offset += 1;
    return value;
  }

  u32(what = 'uint32'): number {
    this.need(4, what);
    const value = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  /** A uint64 that must fit a JavaScript number exactly. */
  u64(what = 'uint64'): number {
    this.need(8, what);
    const value = this.buf.readBigUInt64BE(this.offset);
    this.offset += 8;
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new MalformedPacket(`${what} is too large`);
    return Number(value);
  }

  /** A length-prefixed byte string, as a view on the packet (no copy). */
  bytes(what = 'string'): Buffer {
    const length = this.u32(`${what} length`);
    this.need(length, what);
    const value = this.buf.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  /** A string that must be valid UTF-8. */
  utf8(what = 'string'): string {
    const raw = this.bytes(what);
    if (!isUtf8(raw)) throw new MalformedPacket(`${what} is not valid UTF-8`);
    return raw.toString('utf8');
  }

  /** A path: valid UTF-8 without NUL bytes. */
  path(what = 'path'): string {
    const raw = this.bytes(what);
    if (raw.includes(0)) throw new MalformedPacket(`${what} contains a NUL byte`);
    if (!isUtf8(raw)) throw new MalformedPacket(`${what} is not valid UTF-8`);
    return raw.toString('utf8');
  }

  /** The packet must end here. */
  end(): void {
    if (this.remaining !== 0)
      throw new MalformedPacket(`${this.remaining} unexpected bytes after the request`);
  }
}
