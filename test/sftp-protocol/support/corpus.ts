/**
 * The corpus of packets real SFTP clients send (test/sftp-protocol/corpus/*.txt).
 *
 * Recording: the client tests under test/sftp/ tap the packets Sluice receives (protocol/tap.ts)
 * and, when `SLUICE_RECORD_SFTP_CORPUS=1` is set, write them here. Format, one packet a line:
 *
 *     <session> <length> <hex>
 *
 * `session` numbers the client's SFTP sessions from 1 in start order; `length` is the packet
 * length (type byte first, length field excluded); `hex` is the whole packet, or only its first
 * `HEAD_BYTES` when it is longer than `FULL_UP_TO` (WRITE data): a replay fills the rest with
 * zero bytes, which keeps every field that decides how the packet parses. Lines starting with
 * `#` describe the client and what it did.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tapInboundPackets } from '../../../src/adapters/sftp/protocol/tap.js';

export const CORPUS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'corpus');
const FULL_UP_TO = 512;
const HEAD_BYTES = 64;

export interface CorpusPacket {
  readonly session: number;
  /** The packet as received, or as reconstructed from the corpus (type byte first). */
  readonly packet: Buffer;
  /** True when the corpus kept only the head and the rest was filled with zeros. */
  readonly filled: boolean;
}

export interface Corpus {
  readonly name: string;
  readonly comments: readonly string[];
  readonly packets: readonly CorpusPacket[];
}

/** Taps every packet Sluice receives in this process until `stop()`. */
export class CorpusRecorder {
  private readonly lines: string[] = [];
  private readonly sessions = new Map<number, number>();
  private readonly untap: () => void;
  readonly packets: CorpusPacket[] = [];

  constructor() {
    this.untap = tapInboundPackets((session, packet) => {
      let local = this.sessions.get(session);
      if (local === undefined) {
        local = this.sessions.size + 1;
        this.sessions.set(session, local);
      }
      this.packets.push({ session: local, packet: Buffer.from(packet), filled: false });
      const kept = packet.length > FULL_UP_TO ? packet.subarray(0, HEAD_BYTES) : packet;
      this.lines.push(`${local} ${packet.length} ${kept.toString('hex')}`);
    });
  }

  stop(): void {
    this.untap();
  }

  /** Writes the corpus file when SLUICE_RECORD_SFTP_CORPUS=1; otherwise does nothing. */
  async save(name: string, comments: readonly string[]): Promise<void> {
    if (process.env.SLUICE_RECORD_SFTP_CORPUS !== '1') return;
    const header = comments.map((c) => `# ${c}`);
    await writeFile(path.join(CORPUS_DIR, `${name}.txt`), `${[...header, ...this.lines].join('\n')}\n`);
  }
}

export function parseCorpus(name: string, text: string): Corpus {
  const comments: string[] = [];
  const packets: CorpusPacket[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      comments.push(line.slice(1).trim());
      continue;
    }
    const match = /^(\d+) (\d+) ((?:[0-9a-f]{2})+)$/.exec(line);
    if (!match) throw new Error(`${name}:${index + 1}: not "<session> <length> <hex>"`);
    const length = Number(match[2]);
    const kept = Buffer.from(match[3]!, 'hex');
    if (kept.length > length) throw new Error(`${name}:${index + 1}: more bytes than the length`);
    const packet = Buffer.alloc(length);
    kept.copy(packet);
    packets.push({ session: Number(match[1]), packet, filled: kept.length < length });
  }
  return { name, comments, packets };
}

export async function readCorpora(): Promise<Corpus[]> {
  const names = (await readdir(CORPUS_DIR)).filter((n) => n.endsWith('.txt')).sort();
  return Promise.all(
    names.map(async (n) => parseCorpus(n, await readFile(path.join(CORPUS_DIR, n), 'utf8'))),
  );
}
