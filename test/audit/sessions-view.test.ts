/**
 * The sessions view through the HTTP API: sessions of every kind opened through the session
 * calls, replaced, closed and expired; file and connection events counted per session; each
 * filter, paging both ways, who may see what, and a session's timeline (also as of a time or
 * a position).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { OpenAPIV3_1 } from 'openapi-types';
import { call, startTestSluice, type TestSluice } from '../support/sluice.js';
import {
  aborted,
  connectionOpened,
  createWorld,
  deleted,
  denied,
  downloaded,
  type Opened,
  PASSWORD,
  renamed,
  uploaded,
  type World,
} from './support.js';

type Session = Record<string, unknown> & { sessionId: string; userId: number; position: number };
type Page<T> = { items: T[]; nextCursor: string | null };
type AuditItem = Record<string, unknown> & { position: number; operation: string };

let t: TestSluice;
let w: World;
const ids: Record<string, number> = {};
let aliceFirst: Opened;
let alice: Opened;
let bobImmutable: Opened;
let gateway: Opened;
let impersonated: Opened;
let serviceSession: Opened;
let beforeTransfers: string;
let transfersFrom: number;
let last = 0;

const get = <T>(path: string, token = w.admin) => call<T>(t.base, 'GET', path, { token });
const list = (query: string, token = w.admin) =>
  get<Page<Session>>(`/api/v1/sessions?minPosition=${last}&${query}`, token);
const idsOf = (page: Page<Session>) => page.items.map((s) => s.sessionId).sort();

before(async () => {
  t = await startTestSluice();
  w = await createWorld(t);
  for (const applicationId of [1000, 1001]) {
    const res = await call(t.base, 'POST', '/api/v1/applications', {
      token: w.admin,
      body: { applicationId, name: `Integrator ${applicationId}` },
    });
    assert.equal(res.status, 201);
  }
  ids.alice = await w.createUser('alice');
  ids.bob = await w.createUser('bob');
  ids.carol = await w.createUser('carol', { rights: ['auditor'] });
  ids.service = await w.createUser('service', { rights: ['impersonate'] });

  aliceFirst = await w.open('alice', 1000);
  alice = await w.open('alice', 1000); // replaces aliceFirst
  bobImmutable = await w.openImmutable('bob', 1001);
  gateway = await w.openUserString('bob', 1001, 'Doe, Jane "JD"');
  serviceSession = await w.open('service', 1001);
  const imp = await call<Opened>(t.base, 'POST', '/api/v1/sessions/open-immutable-impersonate', {
    token: serviceSession.token,
    body: {
      userId: ids.alice,
      applicationId: 1001,
      ipAddress: '203.0.113.7',
    },
  });
  assert.equal(imp.status, 201);
  impersonated = imp.body;
  const closed = await call<{ position: number }>(t.base, 'POST', '/api/v1/sessions/close', {
    token: bobImmutable.token,
  });
  assert.equal(closed.status, 200);
  last = closed.body.position;
  await w.settle(last);
  await new Promise((r) => setTimeout(r, 20));
  beforeTransfers = new Date().toISOString();
  await new Promise((r) => setTimeout(r, 20));

  const actor = await w.actorOf(alice);
  transfersFrom = await w.append(connectionOpened(alice), actor);
  await w.append(uploaded('/in/a.csv', 'hello'), actor);
  await w.append(uploaded('/in/b.csv', 'hello world'), actor);
  await w.append(downloaded('/in/a.csv', 'hello'), actor);
  await w.append(renamed('/in/b.csv', '/archive/b.csv'), actor);
  await w.append(deleted('/in/a.csv', 5), actor);
  await w.append(denied('/secret/x'), actor);
  await w.append(aborted('/in/big.bin', 1024), actor);
  const gw = await w.actorOf(gateway);
  await w.append(uploaded('/out/report.csv', 'report'), gw);
  last = await w.append(downloaded('/out/report.csv', 'report'), gw);
  await w.settle(last);
});

after(async () => {
  await w?.close();
  await t?.stop();
});

describe('GET /api/v1/sessions', () => {
  it('lists every session with names, kind, addresses, how it ended and its counters', async () => {
    const res = await list('limit=100');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const byId = new Map(res.body.items.map((s) => [s.sessionId, s]));
    const a = byId.get(alice.sessionId);
    assert.ok(a);
    assert.equal(a.userName, 'alice');
    assert.equal(a.applicationName, 'Integrator 1000');
    assert.equal(a.kind, 'replaceable');
    assert.equal(a.method, 'password');
    assert.equal(a.clientVersion, 'Portal 4.2');
    assert.equal(a.clientIp, '127.0.0.1');
    assert.equal(a.state, 'open');
    assert.equal(a.connections, 1);
    assert.equal(a.uploads, 2);
    assert.equal(a.downloads, 1);
    assert.equal(a.deletes, 1);
    assert.equal(a.bytesIn, 5 + 11);
    assert.equal(a.bytesOut, 5);
    assert.ok(typeof a.lastActivityAt === 'string');

    const first = byId.get(aliceFirst.sessionId);
    assert.equal(first?.state, 'ended');
    assert.equal(first?.endReason, 'replaced');
    assert.equal(first?.replacedBy, alice.sessionId);
    assert.equal(byId.get(bobImmutable.sessionId)?.endReason, 'closed');
    assert.equal(byId.get(bobImmutable.sessionId)?.kind, 'immutable');
    assert.ok(byId.get(bobImmutable.sessionId)?.expiresAt);
    const g = byId.get(gateway.sessionId);
    assert.equal(g?.kind, 'user-string');
    assert.equal(g?.userString, 'Doe, Jane "JD"');
    assert.equal(g?.uploads, 1);
    assert.equal(g?.bytesOut, 6);
    const i = byId.get(impersonated.sessionId);
    assert.equal(i?.kind, 'impersonated');
    assert.equal(i?.clientIp, '203.0.113.7');
    assert.deepEqual(i?.impersonator, {
      userId: ids.service,
      userName: 'service',
      sessionId: serviceSession.sessionId,
    });
    const adminRow = res.body.items.find((s) => s.userName === 'admin');
    assert.equal(adminRow?.applicationName, 'Sluice admin API and console', 'built-in application names');
  });

  it('filters by user, application, kind, state, IP, userString and time', async () => {
    assert.deepEqual(
      idsOf((await list(`userId=${ids.alice}`)).body),
      [aliceFirst.sessionId, alice.sessionId, impersonated.sessionId].sort(),
    );
    assert.deepEqual(
      idsOf((await list('applicationId=1001')).body),
      [bobImmutable.sessionId, gateway.sessionId, serviceSession.sessionId, impersonated.sessionId].sort(),
    );
    assert.deepEqual(idsOf((await list('kind=user-string')).body), [gateway.sessionId]);
    assert.deepEqual(idsOf((await list('kind=impersonated')).body), [impersonated.sessionId]);
    assert.deepEqual(idsOf((await list('state=replaced')).body), [aliceFirst.sessionId]);
    assert.deepEqual(idsOf((await list('state=closed')).body), [bobImmutable.sessionId]);
    assert.deepEqual(
      idsOf((await list('state=ended')).body),
      [aliceFirst.sessionId, bobImmutable.sessionId].sort(),
    );
    const open = idsOf((await list('state=open&limit=100')).body);
    assert.ok(open.includes(alice.sessionId) && !open.includes(aliceFirst.sessionId));
    assert.deepEqual(idsOf((await list('ip=203.0.113.7')).body), [impersonated.sessionId]);
    assert.deepEqual(idsOf((await list(`userString=${encodeURIComponent('Doe, Jane "JD"')}`)).body), [
      gateway.sessionId,
    ]);
    assert.deepEqual(idsOf((await list(`userId=${ids.bob}&kind=immutable`)).body), [bobImmutable.sessionId]);
    assert.deepEqual((await list(`from=${encodeURIComponent(beforeTransfers)}`)).body.items, []);
    assert.equal(
      (await list(`to=${encodeURIComponent(beforeTransfers)}&limit=100`)).body.items.length,
      (await list('limit=100')).body.items.length,
    );
  });

  it('pages with an opaque cursor, newest first by default, oldest first on request', async () => {
    const all = (await list('limit=100')).body.items.map((s) => s.sessionId);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: Page<Session> } = await list(
        `limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      assert.equal(page.status, 200);
      assert.ok(page.body.items.length <= 2);
      seen.push(...page.body.items.map((s) => s.sessionId));
      cursor = page.body.nextCursor;
    } while (cursor);
    assert.deepEqual(seen, all);
    const positions = (await list('limit=100')).body.items.map((s) => s.position);
    assert.deepEqual(
      positions,
      [...positions].sort((a, b) => b - a),
    );
    const ascending = (await list('limit=100&order=asc')).body.items.map((s) => s.sessionId);
    assert.deepEqual(ascending, [...all].reverse());
  });

  it('shows users other than admins and auditors only their own sessions', async () => {
    const mine = await list('limit=100', alice.token);
    assert.equal(mine.status, 200);
    assert.ok(mine.body.items.length > 0);
    assert.ok(mine.body.items.every((s) => s.userId === ids.alice));
    const other = await list(`userId=${ids.bob}`, alice.token);
    assert.equal(other.status, 403);
    const carol = await w.open('carol', 1000);
    const audited = await list('limit=100', carol.token);
    assert.ok(
      audited.body.items.some((s) => s.userId === ids.bob),
      'auditors see everyone',
    );
  });
});

describe('GET /api/v1/sessions/{id}', () => {
  it('answers one session, to its user, admins and auditors; 404 to anyone else', async () => {
    const res = await get<Session>(`/api/v1/sessions/${alice.sessionId}`);
    assert.equal(res.status, 200);
    assert.equal(res.body.uploads, 2);
    assert.equal((await get(`/api/v1/sessions/${alice.sessionId}`, alice.token)).status, 200);
    const bob = await w.open('bob', 1000);
    const refused = await get<{ type: string }>(`/api/v1/sessions/${alice.sessionId}`, bob.token);
    assert.equal(refused.status, 404);
    assert.equal(refused.body.type, '/problems/session-not-found');
    assert.equal((await get('/api/v1/sessions/00000000-0000-7000-8000-000000000000')).status, 404);
  });

  it('waits for minPosition (read-your-writes)', async () => {
    const opened = await call<Opened>(t.base, 'POST', '/api/v1/sessions/open', {
      body: { userName: 'bob', password: PASSWORD, applicationId: 1001, clientVersion: 'x' },
    });
    const res = await get<Session>(
      `/api/v1/sessions/${opened.body.sessionId}?minPosition=${opened.body.position}`,
    );
    assert.equal(res.status, 200);
    assert.equal(res.body.userName, 'bob');
  });
});

describe('GET /api/v1/sessions/{id}/timeline', () => {
  const timeline = (id: string, query = '', token = w.admin) =>
    get<Page<AuditItem>>(`/api/v1/sessions/${id}/timeline?limit=100${query}`, token);

  it('lists every event of the session in order', async () => {
    const res = await timeline(alice.sessionId);
    assert.equal(res.status, 200);
    assert.ok(
      res.body.items.some((e) => e.operation === 'audit.query' && e.target === 'sessions.list'),
      'audit reads made in the session are part of its timeline',
    );
    assert.deepEqual(
      res.body.items.filter((e) => e.operation !== 'audit.query').map((e) => `${e.operation}:${e.outcome}`),
      [
        'session.open:success',
        'connection.open:success',
        'file.upload:success',
        'file.upload:success',
        'file.download:success',
        'file.rename:success',
        'file.delete:success',
        'file.download:denied',
        'file.upload:aborted',
      ],
    );
    const rename = res.body.items.find((e) => e.operation === 'file.rename');
    assert.equal(rename?.path, '/archive/b.csv');
    assert.equal(rename?.previousPath, '/in/b.csv');
    const first = await timeline(aliceFirst.sessionId);
    assert.deepEqual(
      first.body.items.map((e) => e.operation),
      ['session.open', 'session.replace'],
    );
    assert.equal(first.body.items[1]?.target, `session:${alice.sessionId}`);
  });

  it('answers as the log stood at a time (asOf) or a position (untilPosition)', async () => {
    const asOf = await timeline(alice.sessionId, `&asOf=${encodeURIComponent(beforeTransfers)}`);
    assert.deepEqual(
      asOf.body.items.map((e) => e.operation),
      ['session.open'],
    );
    const until = await timeline(alice.sessionId, `&untilPosition=${transfersFrom}`);
    assert.deepEqual(
      until.body.items.map((e) => e.operation),
      ['session.open', 'connection.open'],
    );
  });

  it('pages, and is refused for sessions the caller may not see', async () => {
    const all = (await timeline(alice.sessionId, `&untilPosition=${last}`)).body.items.map((e) => e.position);
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: Page<AuditItem> } = await get<Page<AuditItem>>(
        `/api/v1/sessions/${alice.sessionId}/timeline?limit=4&untilPosition=${last}${cursor ? `&cursor=${cursor}` : ''}`,
      );
      seen.push(...page.body.items.map((e) => e.position));
      cursor = page.body.nextCursor;
    } while (cursor);
    assert.deepEqual(seen, all);
    const bob = await w.open('bob', 1000);
    assert.equal((await timeline(alice.sessionId, '', bob.token)).status, 404);
    assert.equal((await timeline(alice.sessionId, '', alice.token)).status, 200);
  });
});

describe('expiry', () => {
  it('shows an immutable session expired by the scheduler', async () => {
    const session = await w.openImmutable('alice', 1000);
    await w.settle(session.position);
    t.clock.advance(49 * 3600_000);
    assert.ok((await t.sluice.expiry.runOnce()) >= 1);
    const admin = await call<Opened>(t.base, 'POST', '/api/v1/sessions/open', {
      body: { userName: 'carol', password: PASSWORD, applicationId: 1001, clientVersion: 'x' },
    });
    const res = await get<Page<Session>>(
      `/api/v1/sessions?state=expired&userId=${ids.alice}&minPosition=${admin.body.position}`,
      admin.body.token,
    );
    assert.equal(res.status, 200);
    assert.ok(res.body.items.some((s) => s.sessionId === session.sessionId && s.endReason === 'expired'));
    const timeline = await get<Page<AuditItem>>(
      `/api/v1/sessions/${session.sessionId}/timeline`,
      admin.body.token,
    );
    assert.deepEqual(
      timeline.body.items.map((e) => e.operation),
      ['session.open', 'session.expire'],
    );
  });
});

describe('OpenAPI', () => {
  it('documents the session and audit views in a valid document', async () => {
    const res = await call<OpenAPIV3_1.Document>(t.base, 'GET', '/openapi.json');
    assert.equal(res.status, 200);
    for (const route of [
      '/api/v1/sessions/',
      '/api/v1/sessions/{sessionId}',
      '/api/v1/sessions/{sessionId}/timeline',
      '/api/v1/audit/events',
      '/api/v1/audit/export',
      '/api/v1/audit/stream',
    ]) {
      assert.ok(res.body.paths?.[route]?.get, `${route} documented`);
    }
    await SwaggerParser.validate(structuredClone(res.body) as never);
  });
});

describe('bad input: problem+json 400', () => {
  before(async () => {
    await w.signInAdmin(); // the expiry test's clock ended the first one
  });
  const cases: Array<[string, string, string]> = [
    ['an unknown filter', '/api/v1/sessions?colour=red', '/problems/validation'],
    ['an unknown kind', '/api/v1/sessions?kind=eternal', '/problems/validation'],
    ['an unknown state', '/api/v1/sessions?state=zombie', '/problems/validation'],
    ['a malformed cursor', '/api/v1/sessions?cursor=%%%', '/problems/invalid-cursor'],
    ['an oversized page', '/api/v1/sessions?limit=1000', '/problems/validation'],
    [
      'an inverted time range',
      '/api/v1/sessions?from=2026-03-01T00:00:00Z&to=2026-02-01T00:00:00Z',
      '/problems/invalid-time-range',
    ],
    ['a malformed session id', '/api/v1/sessions/not-a-uuid', '/problems/validation'],
    [
      'a malformed timeline time',
      `/api/v1/sessions/${'0'.repeat(8)}-0000-7000-8000-${'0'.repeat(12)}/timeline?asOf=soon`,
      '/problems/validation',
    ],
  ];
  for (const [what, path, type] of cases) {
    it(`refuses ${what}`, async () => {
      const res = await get<{ type: string }>(path);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      assert.equal(res.body.type, type);
    });
  }
});
