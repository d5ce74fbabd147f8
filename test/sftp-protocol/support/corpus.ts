/**
 * The corpus of packets real SFTP clients send (test/sftp-protocol/corpus/*.txt).
 *
 * Recording: the client tests under test/sftp/ tap Sluice's sessions (protocol/tap.ts) and, when
 * `SLUICE_RECORD_SFTP_CORPUS=1` is set, write what they saw here. One line each, in the order
 * Sluice saw them:
 *
 *     <session> <length> <hex>          a packet the client sent
 *     <session> handle <id> <hex>       the handle Sluice answered request <id> with
 *
 * `session` numbers the client's SFTP sessions from 1 in start order; `length` is the packet
 * length (type byte first, length field excluded); `hex` is the whole packet, or only its first
 * `HEAD_BYTES` when it is longer than `FULL_UP_TO` (WRITE data): a replay fills the rest with
 * zero bytes, which keeps every field that decides how the packet parses. The handles let a
 * replay map the recorded handles to the ones its own server hands out. Lines starting with `#`
 * describe the client and what it did.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseInit, parseRequest } from '../../../src/adapters/sftp/protocol/requests.js';
import { tapPackets } from '../../../src/adapters/sftp/protocol/tap.js';

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

export interface CorpusHandle {
  readonly session: number;
  readonly id: number;
  readonly handle: Buffer;
}

export interface Corpus {
  readonly name: string;
  readonly comments: readonly string[];
  readonly packets: readonly CorpusPacket[];
  /** Packets and HANDLE replies in recorded order. */
  readonly sequence: ReadonlyArray<CorpusPacket | CorpusHandle>;
}

const HANDLE_REPLY = 102;

/** Taps every packet Sluice receives, and its HANDLE replies, in this process until `stop()`. */
export class CorpusRecorder {
  private readonly lines: string[] = [];
  private readonly sessions = new Map<number, number>();
  private readonly untap: () => void;
  readonly packets: CorpusPacket[] = [];

  constructor() {
    this.untap = tapPackets({
      received: (session, packet) => {
        const local = this.local(session);
        this.packets.push({ session: local, packet: Buffer.from(packet), filled: false });
        const kept = packet.length > FULL_UP_TO ? packet.subarray(0, HEAD_BYTES) : packet;
        this.lines.push(`${local} ${packet.length} ${kept.toString('hex')}`);
      },
      sent: (session, reply) => {
        if (reply[0] !== HANDLE_REPLY) return;
        const id = reply.readUInt32BE(1);
        const handle = reply.subarray(9, 9 + reply.readUInt32BE(5));
        this.lines.push(`${this.local(session)} handle ${id} ${handle.toString('hex')}`);
      },
    });
  }

  private local(session: number): number {
    let local = this.sessions.get(session);
    if (local === undefined) {
      local = this.sessions.size + 1;
      this.sessions.set(session, local);
    }
    return local;
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

/**
 * Checks that every packet decodes completely (INIT by `parseInit`, the rest by `parseRequest`,
 * no unknown request) and that only WRITEs carry ignored bytes after their data; throws with
 * the packet's position otherwise. Returns how many WRITEs carried such bytes.
 */
export function checkDecodes(label: string, packets: readonly CorpusPacket[]): number {
  let ignoredWrites = 0;
  for (const [index, { packet }] of packets.entries()) {
    const where = `${label} packet ${index + 1} (type ${packet[0]})`;
    if (packet[0] === 1) {
      if (parseInit(packet).version < 3) throw new Error(`${where}: INIT below version 3`);
      continue;
    }
    const parsed = parseRequest(packet);
    if (!parsed.ok) throw new Error(`${where}: ${parsed.message}`);
    if (parsed.request.kind === 'unsupported') throw new Error(`${where}: ${parsed.request.what}`);
    if (parsed.ignoredBytes !== undefined) {
      if (parsed.request.kind !== 'write') throw new Error(`${where}: bytes after a ${parsed.request.kind}`);
      ignoredWrites++;
    }
  }
  return ignoredWrites;
}

export function parseCorpus(name: string, text: string): Corpus {
  const comments: string[] = [];
  const packets: CorpusPacket[] = [];
  const sequence: Array<CorpusPacket | CorpusHandle> = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      comments.push(line.slice(1).trim());
      continue;
    }
    const handle = /^(\d+) handle (\d+) ((?:[0-9a-f]{2})+)$/.exec(line);
    if (handle) {
      sequence.push({
        session: Number(handle[1]),
        id: Number(handle[2]),
        handle: Buffer.from(handle[3]!, 'hex'),
      });
      continue;
    }
    const match = /^(\d+) (\d+) ((?:[0-9a-f]{2})+)$/.exec(line);
    if (!match) throw new Error(`${name}:${index + 1}: neither a packet nor a handle line`);
    const length = Number(match[2]);
    const kept = Buffer.from(match[3]!, 'hex');
    if (kept.length > length) throw new Error(`${name}:${index + 1}: more bytes than the length`);
    const packet = Buffer.alloc(length);
    kept.copy(packet);
    const entry = { session: Number(match[1]), packet, filled: kept.length < length };
    packets.push(entry);
    sequence.push(entry);
  }
  return { name, comments, packets, sequence };
}

export async function readCorpora(): Promise<Corpus[]> {
  const names = (await readdir(CORPUS_DIR)).filter((n) => n.endsWith('.txt')).sort();
  return Promise.all(
    names.map(async (n) => parseCorpus(n, await readFile(path.join(CORPUS_DIR, n), 'utf8'))),
  );
}
