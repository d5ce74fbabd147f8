/**
 * What an auditor sees after real SFTP work: OpenSSH `sftp -b` and paramiko transfer, rename,
 * delete and are refused, then the session view, the audit list, the session's timeline and a
 * CSV export fetched with curl must tell the same story, with who, from where, which bytes.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Static } from '@sinclair/typebox';
import type { AuditItemBody } from '../../src/api/audit/schemas.js';
import type { SessionViewSchema } from '../../src/api/sessions/view-schemas.js';
import { curl } from '../support/curl.js';
import { openSshBatch, paramiko } from '../support/sftp-clients.js';
import { adminSession, call, startTestSluice, type TestSluice, viewsCaughtUp } from '../support/sluice.js';

const PASSWORD = 'ivy-password-1';
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

// The API's own types, from its schemas.
type Item = AuditItemBody;
type SessionView = Static<typeof SessionViewSchema>;

let t: TestSluice;
let admin: string;
let work: string;
let userId: number;
const report = randomBytes(300_000);
const small = Buffer.from('quarterly numbers\n');

async function sessionsOf(): Promise<SessionView[]> {
  const res = await call<{ items: SessionView[] }>(
    t.base,
    'GET',
    `/api/v1/sessions?userId=${userId}&order=asc&minPosition=${await viewsCaughtUp(t)}`,
    { token: admin },
  );
  assert.equal(res.status, 200);
  return res.body.items;
}

async function auditOf(sessionId: string): Promise<Item[]> {
  const res = await call<{ items: Item[]; nextCursor: string | null }>(
    t.base,
    'GET',
    `/api/v1/audit/events?sessionId=${sessionId}&order=asc&limit=200`,
    { token: admin },
  );
  assert.equal(res.status, 200);
  assert.equal(res.body.nextCursor, null);
  return res.body.items;
}

before(async () => {
  t = await startTestSluice();
  admin = await adminSession(t.base);
  work = await mkdtemp(path.join(os.tmpdir(), 'sluice-sftp-audit-'));
  const created = await call<{ userId: number }>(t.base, 'POST', '/api/v1/users', {
    token: admin,
    body: {
      userName: 'Ivy',
      emailAddress: 'ivy@example.com',
      password: PASSWORD,
      // Everything but deleting under /archive.
      permissions: [
        {
          path: '/',
          permissions: ['list', 'download', 'upload', 'overwrite', 'delete', 'rename', 'mkdir', 'rmdir'],
        },
        { path: '/archive', permissions: ['list', 'download', 'upload', 'rename', 'mkdir'] },
      ],
    },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  userId = created.body.userId;
  await writeFile(path.join(work, 'report.bin'), report);
  await writeFile(path.join(work, 'small.txt'), small);
});

after(async () => {
  await t?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('audit of real SFTP sessions', () => {
  it('OpenSSH sftp: the session, its events and counters, as the auditor reads them', async () => {
    const result = await openSshBatch(t.sluice.sftpPort, 'Ivy', { password: PASSWORD }, [
      `put ${work}/report.bin report.bin`,
      `get report.bin ${work}/report.back`,
      'mkdir archive',
      'rename report.bin archive/report.bin',
      `put ${work}/small.txt small.txt`,
      'rm small.txt',
      // Refused: no delete under /archive (`-` lets the batch go on).
      '-rm archive/report.bin',
    ]);
    assert.equal(result.code, 0, result.stderr);

    const sessions = await sessionsOf();
    assert.equal(sessions.length, 1, JSON.stringify(sessions));
    const session = sessions[0]!;
    assert.equal(session.userName, 'Ivy');
    assert.equal(session.clientIp, '127.0.0.1');
    assert.equal(session.connections, 1);
    assert.equal(session.uploads, 2);
    assert.equal(session.downloads, 1);
    assert.equal(session.deletes, 1);
    assert.equal(session.bytesIn, report.length + small.length);
    assert.equal(session.bytesOut, report.length);

    const items = await auditOf(session.sessionId);
    const files = items.filter(
      (i) => i.operation.startsWith('file.') || i.operation.startsWith('directory.'),
    );
    assert.deepEqual(
      files.map((i) => [i.operation, i.outcome, i.path, i.previousPath]),
      [
        ['file.upload', 'success', '/report.bin', null],
        ['file.download-start', 'started', '/report.bin', null],
        ['file.download', 'success', '/report.bin', null],
        ['directory.create', 'success', '/archive', null],
        ['file.rename', 'success', '/archive/report.bin', '/report.bin'],
        ['file.upload', 'success', '/small.txt', null],
        ['file.delete', 'success', '/small.txt', null],
        ['file.delete', 'denied', '/archive/report.bin', null],
      ],
    );
    const upload = files[0]!;
    assert.equal(upload.size, report.length);
    assert.equal(upload.sha256, sha256(report));
    assert.equal(files[2]?.sha256, sha256(report), 'the whole download, hashed as sent');
    for (const item of items) {
      assert.equal(item.userId, userId);
      assert.equal(item.sessionId, session.sessionId);
      assert.equal(item.clientIp, '127.0.0.1');
    }
    for (const item of files) {
      assert.equal(item.userName, 'Ivy');
      assert.equal(item.protocol, 'sftp');
    }
    assert.equal(items[0]?.operation, 'session.open');
    assert.ok(items.some((i) => i.operation === 'connection.open'));
    assert.equal(items.at(-1)?.operation, 'connection.close');

    // The timeline: the same events of the session, in the same order.
    const timeline = await call<{ items: Item[] }>(
      t.base,
      'GET',
      `/api/v1/sessions/${session.sessionId}/timeline?limit=200`,
      { token: admin },
    );
    assert.equal(timeline.status, 200);
    assert.deepEqual(
      timeline.body.items.map((i) => i.position),
      items.map((i) => i.position),
    );

    // The export a compliance auditor downloads, with curl.
    const exported = await curl([
      '-H',
      `authorization: Bearer ${admin}`,
      `${t.base}/api/v1/audit/export?format=csv&sessionId=${session.sessionId}`,
    ]);
    assert.equal(exported.status, 200);
    const lines = exported.body.trimEnd().split('\r\n');
    assert.match(lines[0]!, /^position,at,/);
    assert.deepEqual(
      lines.slice(1).map((l) => Number(l.split(',')[0])),
      items.map((i) => i.position),
    );
    assert.ok(lines.some((l) => l.includes('/archive/report.bin') && l.includes('denied')));
  });

  it('paramiko: a second session, told apart from the first', async () => {
    const script = `
import sys, paramiko
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
transport = paramiko.Transport((host, port))
transport.connect(username=user, password=password)
sftp = paramiko.SFTPClient.from_transport(transport)
with sftp.open('/from-paramiko.txt', 'wb') as f:
    f.write(b'sent by paramiko\\n')
sftp.rename('/from-paramiko.txt', '/archive/from-paramiko.txt')
sftp.close()
transport.close()
`;
    const result = await paramiko(script, t.sluice.sftpPort, 'ivy', PASSWORD);
    assert.equal(result.code, 0, result.stderr);
    const sessions = await sessionsOf();
    const uploads = await Promise.all(
      sessions.map(async (s) =>
        (await auditOf(s.sessionId)).filter((i) => i.operation === 'file.upload').map((i) => i.path),
      ),
    );
    // Whether SFTP sign-ins share one session per user and application or not, paramiko's
    // upload is listed under a session of Ivy's, and only once.
    assert.equal(uploads.flat().filter((p) => p === '/from-paramiko.txt').length, 1);
    const renames = await call<{ items: Item[] }>(
      t.base,
      'GET',
      `/api/v1/audit/events?userId=${userId}&operation=file.rename&order=asc`,
      { token: admin },
    );
    assert.deepEqual(
      renames.body.items.map((i) => [i.previousPath, i.path]),
      [
        ['/report.bin', '/archive/report.bin'],
        ['/from-paramiko.txt', '/archive/from-paramiko.txt'],
      ],
    );
  });
});
