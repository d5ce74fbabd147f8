/**
 * GET /api/v1/audit/events: what the audit view records for real sign-ins, admin changes and
 * file events; each filter; keyset paging both ways without duplicates or gaps while events
 * keep arriving; point-in-time answers; who may see what; audit reads recorded; bad input as
 * problem+json 400.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encodeCursor } from '../../src/api/paging.js';
import { call, startTestSluice, type TestSluice } from '../support/sluice.js';
import {
  aborted,
  connectionOpened,
  createWorld,
  deleted,
  denied,
  downloaded,
  type Opened,
  renamed,
  sha256,
  uploaded,
  type World,
} from './support.js';

type Item = {
  position: number;
  at: string;
  operation: string;
  outcome: string;
  userId: number | null;
  userName: string | null;
  applicationId: number | null;
  sessionId: string | null;
  clientIp: string | null;
  userString: string | null;
  path: string | null;
  previousPath: string | null;
  size: number | null;
  sha256: string | null;
  reason: string | null;
  target: string | null;
  detail: Record<string, unknown> | null;
};
type Page = { items: Item[]; nextCursor: string | null };
type Problem = { type: string; status: number };

let t: TestSluice;
let w: World;
const ids: Record<string, number> = {};
let alice: Opened;
let gateway: Opened;
let last = 0;
let midTime: string;
let midPosition: number;

const events = (query: string, token = w.admin) =>
  call<Page & Problem>(t.base, 'GET', `/api/v1/audit/events?minPosition=${last}&${query}`, { token });
/** Every item matching `query` (no audit reads), following cursors. */
async function all(query: string, token = w.admin): Promise<Item[]> {
  const items: Item[] = [];
  let cursor: string | null = null;
  do {
    const page: { status: number; body: Page } = await events(
      `limit=500&${query}${cursor ? `&cursor=${cursor}` : ''}`,
      token,
    );
    assert.equal(page.status, 200, JSON.stringify(page.body));
    items.push(...page.body.items);
    cursor = page.body.nextCursor;
  } while (cursor);
  return items.filter((i) => i.operation !== 'audit.query');
}
const ops = (items: Item[]) => items.map((i) => `${i.operation}:${i.outcome}`);

before(async () => {
  t = await startTestSluice();
  w = await createWorld(t);
  const app = await call(t.base, 'POST', '/api/v1/applications', {
    token: w.admin,
    body: { applicationId: 1000, name: 'Partner portal' },
  });
  assert.equal(app.status, 201);
  ids.alice = await w.createUser('alice');
  ids.alicia = await w.createUser('alicia');
  ids.bob = await w.createUser('bob');
  ids.carol = await w.createUser('carol', { rights: ['auditor'] });
  const failed = await call(t.base, 'POST', '/api/v1/sessions/open', {
    body: { userName: 'Alice', password: 'wrong-password', applicationId: 1000, clientVersion: 'x' },
  });
  assert.equal(failed.status, 401);
  const unknown = await call(t.base, 'POST', '/api/v1/sessions/open', {
    body: { userName: 'mallory', password: 'guess', applicationId: 1000, clientVersion: 'x' },
  });
  assert.equal(unknown.status, 401);
  alice = await w.open('alice', 1000);
  await w.open('alicia', 1000);
  gateway = await w.openUserString('bob', 1000, 'Doe, Jane "JD"');
  const a = await w.actorOf(alice);
  await w.append(connectionOpened(alice), a);
  await w.append(uploaded('/in/plain.txt', 'plain'), a);
  await w.append(uploaded('/in/a,b "c".csv', 'quoted'), a);
  midPosition = await w.append(uploaded('/in/100%_done.txt', 'percent'), a);
  await w.settle(midPosition);
  await new Promise((r) => setTimeout(r, 20));
  midTime = new Date().toISOString();
  await new Promise((r) => setTimeout(r, 20));
  await w.append(downloaded('/in/plain.txt', 'plain'), a);
  await w.append(renamed('/in/plain.txt', '/archive/plain.txt'), a);
  await w.append(deleted('/archive/plain.txt', 5), a);
  await w.append(denied('/etc/passwd'), a);
  await w.append(aborted('/in/big.bin', 4096), a);
  const g = await w.actorOf(gateway, { clientIp: '198.51.100.9' });
  await w.append(uploaded('/out/report.csv', 'report'), g);
  await w.append(downloaded('/out/report.csv', 'report'), g);
  const closed = await call<{ position: number }>(t.base, 'POST', '/api/v1/sessions/close', {
    token: gateway.token,
  });
  last = closed.body.position;
  await w.settle(last);
});

after(async () => {
  await w?.close();
  await t?.stop();
});

describe('what the audit view records', () => {
  it('sign-ins and their failures, with the name tried and the reason', async () => {
    const items = await all('operation=session.open&order=asc');
    const failures = items.filter((i) => i.outcome === 'failure');
    assert.deepEqual(
      failures.map((i) => [i.userName, i.userId, i.reason, i.clientIp, i.applicationId]),
      [
        ['Alice', ids.alice, 'invalid-credentials', '127.0.0.1', 1000],
        ['mallory', null, 'unknown-user', '127.0.0.1', 1000],
      ],
    );
    const opened = items.find((i) => i.sessionId === gateway.sessionId);
    assert.equal(opened?.userName, 'bob');
    assert.equal(opened?.userString, 'Doe, Jane "JD"');
    assert.equal(opened?.detail?.kind, 'user-string');
  });

  it('admin changes, with who did them and what they are about', async () => {
    const created = await all(`operation=user.create&order=asc`);
    const alicia = created.find((i) => i.target === `user:${ids.alicia}`);
    assert.equal(alicia?.userName, 'admin');
    assert.equal(alicia?.applicationId, 1);
    assert.equal(alicia?.detail?.userName, 'alicia');
    const registered = await all('operation=application.register');
    assert.equal(registered[0]?.target, 'application:1000');
  });

  it('file operations with path, previous path, size, sha256, userString, denials and aborts', async () => {
    const items = await all(`sessionId=${alice.sessionId}&order=asc`);
    assert.deepEqual(ops(items), [
      'session.open:success',
      'connection.open:success',
      'file.upload:success',
      'file.upload:success',
      'file.upload:success',
      'file.download:success',
      'file.rename:success',
      'file.delete:success',
      'file.download:denied',
      'file.upload:aborted',
    ]);
    const upload = items[2];
    assert.equal(upload?.path, '/in/plain.txt');
    assert.equal(upload?.size, 5);
    assert.equal(upload?.sha256, sha256('plain'));
    assert.equal(upload?.userName, 'alice');
    assert.equal(upload?.applicationId, 1000);
    assert.equal(items[6]?.previousPath, '/in/plain.txt');
    assert.equal(items[6]?.path, '/archive/plain.txt');
    assert.equal(items[8]?.reason, 'no permission');
    assert.equal(items[9]?.size, 4096);
    const gw = await all(`sessionId=${gateway.sessionId}&order=asc`);
    assert.deepEqual(ops(gw), [
      'session.open:success',
      'file.upload:success',
      'file.download:success',
      'session.close:success',
    ]);
    assert.ok(
      gw.slice(1, 3).every((i) => i.userString === 'Doe, Jane "JD"' && i.clientIp === '198.51.100.9'),
    );
  });
});

describe('filters', () => {
  it('operation: one or several', async () => {
    assert.ok((await all('operation=file.upload')).every((i) => i.operation === 'file.upload'));
    const several = await all('operation=file.delete&operation=file.rename&order=asc');
    assert.deepEqual(
      several.map((i) => i.operation),
      ['file.rename', 'file.delete'],
    );
    const withUser = await all(`operation=file.upload&operation=file.download&userId=${ids.bob}&order=asc`);
    assert.deepEqual(ops(withUser), ['file.upload:success', 'file.download:success']);
  });

  it('user id, user name prefix (case-insensitive, names tried in failed sign-ins too)', async () => {
    const byId = await all(`userId=${ids.bob}`);
    assert.ok(byId.length >= 4 && byId.every((i) => i.userId === ids.bob));
    const ali = await all('userName=ALI');
    assert.ok(ali.some((i) => i.userName === 'alice') && ali.some((i) => i.userName === 'alicia'));
    assert.ok(ali.every((i) => i.userName?.toLowerCase().startsWith('ali')));
    const positions = ali.map((i) => i.position);
    assert.deepEqual(
      positions,
      [...positions].sort((a, b) => b - a),
      'merged in position order',
    );
    const mallory = await all('userName=mall');
    assert.deepEqual(
      mallory.map((i) => [i.userName, i.reason]),
      [['mallory', 'unknown-user']],
    );
    assert.deepEqual(await all('userName=nobody-by-this-name'), []);
    const aliceUploads = await all('userName=alice&operation=file.upload&operation=file.delete');
    assert.equal(aliceUploads.length, 5, 'three uploads, one aborted, one delete');
  });

  it('application, session, IP, userString, outcome', async () => {
    assert.ok((await all('applicationId=1000')).every((i) => i.applicationId === 1000));
    assert.ok((await all(`sessionId=${alice.sessionId}`)).every((i) => i.sessionId === alice.sessionId));
    assert.equal((await all('ip=198.51.100.9')).length, 2);
    const byString = await all(`userString=${encodeURIComponent('Doe, Jane "JD"')}`);
    assert.deepEqual(
      ops(byString).sort(),
      ['file.download:success', 'file.upload:success', 'session.close:success', 'session.open:success'],
      'its opening, two transfers and its own Close (made with its token)',
    );
    assert.deepEqual(ops(await all('outcome=denied')), ['file.download:denied']);
    assert.deepEqual(ops(await all('outcome=aborted')), ['file.upload:aborted']);
    assert.equal((await all('outcome=failure')).length, 2);
  });

  it('path prefix, with LIKE’s own characters taken literally', async () => {
    const inbox = await all('path=/in/&operation=file.upload&order=asc');
    assert.deepEqual(
      inbox.map((i) => i.path),
      ['/in/plain.txt', '/in/a,b "c".csv', '/in/100%_done.txt', '/in/big.bin'],
    );
    assert.deepEqual(
      (await all(`path=${encodeURIComponent('/in/100%_')}`)).map((i) => i.path),
      ['/in/100%_done.txt'],
    );
    assert.deepEqual(await all(`path=${encodeURIComponent('/in/1_')}`), []);
    assert.deepEqual((await all('path=/archive')).map((i) => i.operation).sort(), [
      'file.delete',
      'file.rename',
    ]);
  });

  it('time range and untilPosition answer as the log stood then', async () => {
    const before = await all(`to=${encodeURIComponent(midTime)}&sessionId=${alice.sessionId}`);
    assert.ok(before.every((i) => i.position <= midPosition));
    assert.equal(before.length, 5);
    const afterMid = await all(`from=${encodeURIComponent(midTime)}&sessionId=${alice.sessionId}`);
    assert.equal(afterMid.length, 5);
    assert.ok(afterMid.every((i) => i.position > midPosition));
    const until = await all(`untilPosition=${midPosition}`);
    assert.ok(until.length > 0);
    assert.equal(until[0]?.position, midPosition, 'descending from the bound');
  });
});

describe('paging', () => {
  it('ascending pages neither repeat nor skip a row while events keep arriving', async () => {
    const session = await w.open('bob', 1000);
    const actor = await w.actorOf(session);
    const total = 150;
    const writer = (async () => {
      let position = 0;
      for (let i = 0; i < total; i += 1) {
        position = await w.append(uploaded(`/load/${i}.bin`, `content ${i}`), actor);
      }
      return position;
    })();
    const seen: number[] = [];
    const query = `sessionId=${session.sessionId}&operation=file.upload&order=asc&limit=7`;
    let cursor: string | null = null;
    let done = false;
    void writer.then(() => {
      done = true;
    });
    const deadline = Date.now() + 60_000;
    for (;;) {
      assert.ok(Date.now() < deadline, `paged ${seen.length} of ${total} rows in a minute`);
      const page: { status: number; body: Page } = await events(
        `${query}${cursor ? `&cursor=${cursor}` : ''}`,
      );
      assert.equal(page.status, 200);
      seen.push(...page.body.items.map((i) => i.position));
      const lastItem = page.body.items.at(-1);
      if (lastItem)
        cursor = page.body.nextCursor ?? encodeCursor({ position: lastItem.position, order: 'asc' });
      if (page.body.nextCursor === null) {
        if (done && seen.length === total) break;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    const finalPosition = await writer;
    await w.settle(finalPosition);
    assert.equal(new Set(seen).size, seen.length, 'no duplicates');
    assert.deepEqual(
      seen,
      [...seen].sort((a, b) => a - b),
      'in order',
    );
    const expected = (await all(`sessionId=${session.sessionId}&operation=file.upload&order=asc`)).map(
      (i) => i.position,
    );
    assert.deepEqual(seen, expected, 'no gaps');
  });

  it('descending pages from the top never repeat a row while events keep arriving', async () => {
    const session = await w.open('bob', 1000);
    const actor = await w.actorOf(session);
    let position = 0;
    for (let i = 0; i < 40; i += 1) position = await w.append(uploaded(`/d/${i}`, `${i}`), actor);
    await w.settle(position);
    const writer = (async () => {
      for (let i = 40; i < 80; i += 1) await w.append(uploaded(`/d/${i}`, `${i}`), actor);
    })();
    const seen: number[] = [];
    let cursor: string | null = null;
    let first = true;
    let top = 0;
    do {
      const page: { body: Page } = await events(
        `sessionId=${session.sessionId}&operation=file.upload&limit=6${cursor ? `&cursor=${cursor}` : ''}`,
      );
      if (first) top = page.body.items[0]?.position ?? 0;
      first = false;
      seen.push(...page.body.items.map((i) => i.position));
      cursor = page.body.nextCursor;
    } while (cursor);
    await writer;
    assert.equal(new Set(seen).size, seen.length);
    assert.deepEqual(
      seen,
      [...seen].sort((a, b) => b - a),
    );
    const expected = (
      await all(`sessionId=${session.sessionId}&operation=file.upload&untilPosition=${top}`)
    ).map((i) => i.position);
    assert.deepEqual(seen, expected, 'everything up to the first page, once');
  });
});

describe('who may see what, and audit reads recorded', () => {
  it('users other than admins and auditors see only their own events', async () => {
    const own = await all('operation=file.upload', alice.token);
    assert.ok(own.length >= 4);
    assert.ok(own.every((i) => i.userId === ids.alice));
    const refused = await events(`userId=${ids.bob}`, alice.token);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.type, '/problems/forbidden');
    const carol = await w.open('carol', 1000);
    const audited = await all(`userId=${ids.bob}`, carol.token);
    assert.ok(audited.length > 0, 'auditors see everyone');
  });

  it('records every audit read as AuditQueried (who, which filters), listed as audit.query', async () => {
    const marker = '/marker/for-this-query';
    await events(`path=${encodeURIComponent(marker)}&operation=file.upload&operation=file.delete`);
    let recorded: Item | undefined;
    for (let attempt = 0; attempt < 100 && !recorded; attempt += 1) {
      const res = await events('operation=audit.query&limit=50');
      recorded = res.body.items.find(
        (i) => (i.detail?.filters as Record<string, unknown> | undefined)?.path === marker,
      );
      if (!recorded) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(recorded, 'the earlier query is in the view');
    assert.equal(recorded.userName, 'admin');
    assert.equal(recorded.target, 'audit.events');
    assert.deepEqual((recorded.detail?.filters as Record<string, unknown> | undefined)?.operation, [
      'file.upload',
      'file.delete',
    ]);
    const { pool } = t.database.open({ max: 1 });
    const rows = await pool.query(
      "SELECT stream_id, data, metadata FROM events WHERE type = 'AuditQueried' ORDER BY global_position",
    );
    const mine = rows.rows.find((r) => r.data.filters.path === marker);
    assert.equal(mine.stream_id, `audit-queries-${mine.data.userId}`);
    assert.equal(mine.metadata.actor.clientIp, '127.0.0.1');
  });
});

describe('bad input: problem+json 400, never a 500', () => {
  const cases: Array<[string, string, string]> = [
    ['an unknown filter', 'colour=red', '/problems/validation'],
    ['an unknown operation', 'operation=file.teleport', '/problems/validation'],
    ['an unknown outcome', 'outcome=maybe', '/problems/validation'],
    ['a malformed cursor', 'cursor=not-a-cursor', '/problems/invalid-cursor'],
    ['a cursor of another shape', `cursor=${encodeCursor({ userId: 3 })}`, '/problems/invalid-cursor'],
    [
      'a cursor of the other order',
      `order=asc&cursor=${encodeCursor({ position: 5, order: 'desc' })}`,
      '/problems/invalid-cursor',
    ],
    [
      'an inverted time range',
      'from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z',
      '/problems/invalid-time-range',
    ],
    ['a malformed time', 'from=yesterday', '/problems/validation'],
    ['an oversized page', 'limit=501', '/problems/validation'],
    ['an empty page', 'limit=0', '/problems/validation'],
    ['a malformed session id', 'sessionId=42', '/problems/validation'],
    ['a negative position', 'untilPosition=-1', '/problems/validation'],
    ['a non-numeric user id', 'userId=alice', '/problems/validation'],
    ['a control character', `path=${encodeURIComponent('/a\nb')}`, '/problems/validation'],
  ];
  for (const [what, query, type] of cases) {
    it(`refuses ${what}`, async () => {
      const res = await call<Problem>(t.base, 'GET', `/api/v1/audit/events?${query}`, { token: w.admin });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      assert.equal(res.body.type, type);
    });
  }

  it('refuses a user-name prefix matching more than 100 names', async () => {
    let position = 0;
    for (let i = 0; i < 101; i += 1) {
      position = await w.append(
        {
          type: 'SignInFailed',
          data: {
            method: 'password',
            reason: 'unknown-user',
            applicationId: 1000,
            userName: `spray-${i}`,
            userId: null,
            clientIp: '192.0.2.1',
            clientVersion: null,
            at: new Date().toISOString(),
          },
        },
        { clientIp: '192.0.2.1' },
      );
    }
    const res = await call<Problem>(
      t.base,
      'GET',
      `/api/v1/audit/events?userName=spray&minPosition=${position}`,
      {
        token: w.admin,
      },
    );
    assert.equal(res.status, 400);
    assert.equal(res.body.type, '/problems/filter-too-broad');
    const narrower = await all('userName=spray-10');
    assert.deepEqual(narrower.map((i) => i.userName).sort(), ['spray-10', 'spray-100']);
  });

  it('answers 401 without a session', async () => {
    const res = await call<Problem>(t.base, 'GET', '/api/v1/audit/events');
    assert.equal(res.status, 401);
  });
});
