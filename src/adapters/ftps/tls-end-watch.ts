/**
 * Tells a TLS stream the client ended (close_notify, then FIN) from one cut short (FIN alone:
 * the client was killed, or someone injected the FIN). FTP stream mode marks the end of an
 * upload by closing the data connection, so only close_notify proves the file is whole
 * (RFC 4217 §9); Node reports both as the same `end`, so this sits between the TCP socket and
 * TLSSocket and reads the TLS record headers going by (never the contents).
 *
 * The last record before the end is the client's close_notify alert when it is an alert
 * record (TLS 1.2, content type 21), or, under TLS 1.3 where alerts travel encrypted as
 * application data, a 19-byte record: a 2-byte alert, its inner type and a 16-byte AEAD tag.
 * (A killed client whose last write was exactly 2 bytes would pass; TLS 1.3 record padding,
 * which the usual client libraries do not add, would make a whole upload look cut short.)
 */
import type net from 'node:net';
import { Duplex } from 'node:stream';

const HEADER_BYTES = 5;
const ALERT = 21;
const APPLICATION_DATA = 23;
const TLS13_ALERT_RECORD_BYTES = 2 + 1 + 16;

export class TlsEndWatch extends Duplex {
  private readonly header = Buffer.alloc(HEADER_BYTES);
  private headerBytes = 0;
  /** Body bytes of the current record still to come. */
  private remaining = 0;
  private lastType = 0;
  private lastLength = 0;
  private rawEnded = false;

  constructor(private readonly raw: net.Socket) {
    super();
    raw.on('data', (chunk: Buffer) => {
      this.scan(chunk);
      if (!this.push(chunk)) raw.pause();
    });
    raw.on('end', () => {
      this.rawEnded = true;
      this.push(null);
    });
    raw.on('error', (error) => this.destroy(error));
    // After a clean end, TLS still has to hand over what it decrypted: closing now would cut
    // the upload's last bytes off (a premature close).
    raw.on('close', () => {
      if (!this.rawEnded) this.destroy();
    });
  }

  /** Whether the stream so far ends with the client's close_notify. */
  endedWithAlert(): boolean {
    if (this.remaining > 0 || this.headerBytes > 0) return false;
    return (
      this.lastType === ALERT ||
      (this.lastType === APPLICATION_DATA && this.lastLength === TLS13_ALERT_RECORD_BYTES)
    );
  }

  private scan(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining > 0) {
        const skip = Math.min(this.remaining, chunk.length - at);
        this.remaining -= skip;
        at += skip;
        continue;
      }
      const take = Math.min(HEADER_BYTES - this.headerBytes, chunk.length - at);
      chunk.copy(this.header, this.headerBytes, at, at + take);
      this.headerBytes += take;
      at += take;
      if (this.headerBytes === HEADER_BYTES) {
        this.lastType = this.header[0] ?? 0;
        this.lastLength = this.header.readUInt16BE(3);
        this.remaining = this.lastLength;
        this.headerBytes = 0;
      }
    }
  }

  override _read(): void {
    this.raw.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    // The client may be gone once it ended cleanly (TLS answers its close_notify): nothing to send to.
    if (this.raw.destroyed) callback();
    else this.raw.write(chunk, () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.raw.destroyed) callback();
    else this.raw.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.raw.destroy();
    callback(error);
  }
}
