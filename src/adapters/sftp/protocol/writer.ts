/** Builds one outbound SFTP packet: uint32 length, then the body, grown as needed. */

export class PacketWriter {
  private buf: Buffer;
  private offset = 4;

  constructor(type: number, sizeHint = 64) {
    this.buf = Buffer.allocUnsafe(Math.max(16, sizeHint + 5));
    this.u8(type);
  }

  private ensure(n: number): void {
    if (this.offset + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.offset + n));
    this.buf.copy(next, 0, 0, this.offset);
    this.buf = next;
  }

  u8(value: number): this {
    this.ensure(1);
    this.buf[this.offset] = value;
    this.offset += 1;
    return this;
  }

  u32(value: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(value >>> 0, this.offset);
    this.offset += 4;
    return this;
  }

  u64(value: number): this {
    this.ensure(8);
    this.buf.writeBigUInt64BE(BigInt(Math.max(0, Math.trunc(value))), this.offset);
    this.offset += 8;
    return this;
  }

  bytes(value: Buffer): this {
    this.u32(value.length);
    this.ensure(value.length);
    value.copy(this.buf, this.offset);
    this.offset += value.length;
    return this;
  }

  string(value: string): this {
    const length = Buffer.byteLength(value, 'utf8');
    this.u32(length);
    this.ensure(length);
    this.buf.write(value, this.offset, length, 'utf8');
    this.offset += length;
    return this;
  }

  /** The finished packet, length field filled in. */
  finish(): Buffer {
    this.buf.writeUInt32BE(this.offset - 4, 0);
    return this.buf.subarray(0, this.offset);
  }
}
