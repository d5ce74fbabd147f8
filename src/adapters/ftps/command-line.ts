/**
 * FTP control lines: bytes split at CRLF (a lone LF accepted), each line at most
 * MAX_LINE_BYTES (a longer one is refused whole, never buffered without bound), decoded as
 * UTF-8 (RFC 2640), then split into an upper-cased verb and its argument. Telnet IP and Synch
 * sequences some clients send before ABOR are dropped.
 */

export const MAX_LINE_BYTES = 4096;

export interface Command {
  readonly verb: string;
  /** Everything after the first space, as sent (a path may hold spaces). */
  readonly argument: string;
}

export function parseCommand(line: string): Command {
  // Telnet IAC IP / IAC DM (RFC 959 ABOR), read as latin-1 bytes or as U+FFFD after UTF-8.
  const text = line.replace(/^(?:\u00ff[\u00f2\u00f4]|\ufffd)+/, '');
  const space = text.indexOf(' ');
  if (space < 0) return { verb: text.toUpperCase(), argument: '' };
  return { verb: text.slice(0, space).toUpperCase(), argument: text.slice(space + 1) };
}

/** Splits a byte stream into lines; calls `onTooLong` (once per such line) for one past the limit. */
export class LineReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private discarding = false;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onTooLong: () => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let end = chunk.indexOf(0x0a); end >= 0; end = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, end);
      start = end + 1;
      if (this.discarding) {
        this.discarding = false;
        this.reset();
        continue;
      }
      if (this.pendingBytes + piece.length > MAX_LINE_BYTES) {
        this.reset();
        this.onTooLong();
        continue;
      }
      const whole = Buffer.concat([...this.pending, piece]);
      this.reset();
      const bytes = whole.at(-1) === 0x0d ? whole.subarray(0, -1) : whole;
      this.onLine(bytes.toString('utf8'));
    }
    const rest = chunk.subarray(start);
    if (this.discarding || rest.length === 0) return;
    if (this.pendingBytes + rest.length > MAX_LINE_BYTES) {
      this.reset();
      this.discarding = true;
      this.onTooLong();
      return;
    }
    this.pending.push(rest);
    this.pendingBytes += rest.length;
  }

  private reset(): void {
    this.pending = [];
    this.pendingBytes = 0;
  }
}
