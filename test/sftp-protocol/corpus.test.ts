/**
 * Replays the packets real clients sent (test/sftp-protocol/corpus, recorded by the client
 * tests under test/sftp/): each must decode completely, and a session over an in-memory
 * FileSession must answer each with exactly one well-formed reply of a type that fits the
 * request, never BAD_MESSAGE or OP_UNSUPPORTED.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRequest, type SftpRequestKind } from '../../src/adapters/sftp/protocol/requests.js';
import { type Corpus, checkDecodes, readCorpora } from './support/corpus.js';
import { MemoryFiles } from './support/memory-files.js';
import { connect, FX, type Harness, handleOf, type RawReply, T, u32 } from './support/raw-client.js';

const corpora = await readCorpora();
const CLIENTS = ['openssh-sftp', 'paramiko', 'curl', 'rclone', 'lftp', 'asyncssh'].map((n) => `${n}.txt`);

/** Reply types a request may get besides STATUS. */
const REPLY_TYPES: Partial<Record<SftpRequestKind, number>> = {
  open: T.HANDLE,
  opendir: T.HANDLE,
  read: T.DATA,
  readdir: T.NAME,
  realpath: T.NAME,
  readlink: T.NAME,
  stat: T.ATTRS,
  lstat: T.ATTRS,
  fstat: T.ATTRS,
  statvfs: T.EXTENDED_REPLY,
  fstatvfs: T.EXTENDED_REPLY,
  limits: T.EXTENDED_REPLY,
};

/** Walks a reply body field by field; throws unless it ends exactly at the last field. */
function checkWellFormed(reply: RawReply): void {
  const body = reply.body;
  let p = 0;
  const need = (n: number) => {
    if (p + n > body.length) throw new Error(`reply type ${reply.type} runs short`);
  };
  const u32At = () => {
    need(4);
    const v = body.readUInt32BE(p);
    p += 4;
    return v;
  };
  const skip = (n: number) => {
    need(n);
    p += n;
  };
  const string = () => skip(u32At());
  const attrs = () => {
    const flags = u32At();
    if (flags & ~0xf) throw new Error(`unexpected ATTRS flags ${flags.toString(16)}`);
    if (flags & 1) skip(8);
    if (flags & 2) skip(8);
    if (flags & 4) skip(4);
    if (flags & 8) skip(8);
  };
  switch (reply.type) {
    case T.STATUS:
      if (u32At() > FX.OP_UNSUPPORTED) throw new Error('unknown status code');
      string();
      string();
      break;
    case T.HANDLE:
    case T.DATA:
      string();
      break;
    case T.NAME: {
      const count = u32At();
      for (let i = 0; i < count; i++) {
        string();
        string();
        attrs();
      }
      break;
    }
    case T.ATTRS:
      attrs();
      break;
    case T.EXTENDED_REPLY:
      if (body.length === 0 || body.length % 8 !== 0) throw new Error('EXTENDED_REPLY is not uint64s');
      p = body.length;
      break;
    default:
      throw new Error(`unexpected reply type ${reply.type}`);
  }
  if (p !== body.length) throw new Error(`${body.length - p} bytes after reply type ${reply.type}`);
}

function sessionsOf(corpus: Corpus): Map<number, Buffer[]> {
  const sessions = new Map<number, Buffer[]>();
  for (const { session, packet } of corpus.packets) {
    const list = sessions.get(session) ?? [];
    list.push(packet);
    sessions.set(session, list);
  }
  return sessions;
}

/** The handles Sluice answered with while recording, per `session:id`, in order. */
function recordedHandles(corpus: Corpus): Map<string, Buffer[]> {
  const out = new Map<string, Buffer[]>();
  for (const entry of corpus.sequence) {
    if (!('id' in entry)) continue;
    const key = `${entry.session}:${entry.id}`;
    out.set(key, [...(out.get(key) ?? []), entry.handle]);
  }
  return out;
}

/** The count a corpus's header states for WRITEs with bytes after their data, or 0. */
function statedIgnoredWrites(corpus: Corpus): number {
  const line = corpus.comments.find((c) => c.startsWith('WRITEs with bytes after their data'));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(':') + 1));
}

describe('the client corpus', () => {
  it('holds a corpus for each client the tests drive, each opening with INIT', () => {
    const names = corpora.map((c) => c.name);
    for (const name of CLIENTS) assert.ok(names.includes(name), name);
    for (const corpus of corpora) {
      assert.ok(
        corpus.comments.some((c) => c.startsWith('client: ')),
        `${corpus.name} names its client`,
      );
      assert.ok(corpus.packets.length > 10, corpus.name);
      for (const packets of sessionsOf(corpus).values()) assert.equal(packets[0]?.[0], T.INIT, corpus.name);
    }
  });

  for (const corpus of corpora) {
    it(`${corpus.name}: every packet decodes completely; only WRITEs carry bytes after their data`, () => {
      const ignoredWrites = checkDecodes(corpus.name, corpus.packets);
      assert.equal(ignoredWrites, statedIgnoredWrites(corpus));
    });

    it(`${corpus.name}: replayed in recorded order, each request gets one well-formed reply`, async () => {
      // Every session stays open, and the packets go in the order Sluice received them, each
      // after the reply to the one before; handles are mapped to the ones this server hands out.
      const files = new MemoryFiles();
      const harnesses = new Map<number, Harness>();
      const handleMaps = new Map<number, Map<string, Buffer>>();
      const recorded = recordedHandles(corpus);
      const outcomes = new Map<string, number>();
      for (const entry of corpus.sequence) {
        if (!('packet' in entry)) continue;
        let harness = harnesses.get(entry.session);
        if (!harness) {
          harness = await connect(files);
          harness.client.socket.setNoDelay(true);
          harnesses.set(entry.session, harness);
          handleMaps.set(entry.session, new Map());
        }
        const { client } = harness;
        const handles = handleMaps.get(entry.session)!;
        const packet = Buffer.from(entry.packet);
        const sent = client.replies.length;
        if (packet[0] === T.INIT) {
          client.write(Buffer.concat([u32(packet.length), packet]));
          assert.equal((await client.waitFor(() => client.replies.length > sent)).type, T.VERSION);
          continue;
        }
        const parsed = parseRequest(packet);
        assert.ok(parsed.ok);
        const request = parsed.request;
        if ('handle' in request) handles.get(request.handle.toString('hex'))?.copy(request.handle);
        client.write(Buffer.concat([u32(packet.length), packet]));
        const reply = await client.waitFor(() => client.replies.length > sent);
        assert.equal(client.replies.length, sent + 1, 'one reply at a time');
        const where = `${corpus.name} ${request.kind} id ${request.id}`;
        assert.equal(reply.id, request.id, where);
        checkWellFormed(reply);
        assert.ok(
          reply.type === T.STATUS || reply.type === REPLY_TYPES[request.kind],
          `${where}: reply ${reply.type}`,
        );
        const code = reply.type === T.STATUS ? reply.body.readUInt32BE(0) : FX.OK;
        assert.ok(code !== FX.BAD_MESSAGE && code !== FX.OP_UNSUPPORTED, `${where}: status ${code}`);
        if (reply.type === T.HANDLE) {
          const was = recorded.get(`${entry.session}:${request.id}`)?.shift();
          if (was) handles.set(was.toString('hex'), handleOf(reply));
        }
        const outcome = `${request.kind} ${code}`;
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
      for (const { client, session } of harnesses.values()) {
        client.socket.end();
        assert.equal((await session.closed).reason, 'client-ended');
      }
      const requests = corpus.packets.filter((p) => p.packet[0] !== T.INIT).length;
      assert.equal(
        [...outcomes.values()].reduce((a, b) => a + b, 0),
        requests,
      );
      // Recorded against a real server that stored every file: every WRITE lands here too.
      assert.equal(outcomes.get(`write ${FX.FAILURE}`), undefined, JSON.stringify([...outcomes]));
      assert.ok((outcomes.get(`write ${FX.OK}`) ?? 0) > 0);
    });
  }
});
