/** User and application administration through a real listening server. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { adminSession, call, startTestSluice, type TestSluice } from '../support/sluice.js';

const run = promisify(execFile);
let t: TestSluice;
let admin: string;
let publicKey: string;
let privateKey: string;
let keyDir: string;

type User = {
  userId: number;
  userName: string;
  emailAddress: string;
  rights: string[];
  enabled: boolean;
  hasPassword: boolean;
  position: number;
  sshPublicKeys: Array<{ fingerprint: string; comment: string }>;
  permissions: unknown[];
  homeFolder: string;
};
type Page = { items: Array<{ userId: number; userName: string }>; nextCursor: string | null };
type ProblemBody = { type: string; status: number };

const create = (body: Record<string, unknown>) =>
  call<User & ProblemBody>(t.base, 'POST', '/api/v1/users', { token: admin, body });
const list = (query: string) =>
  call<Page & ProblemBody>(t.base, 'GET', `/api/v1/users?${query}`, { token: admin });

before(async () => {
  t = await startTestSluice();
  admin = await adminSession(t.base);
  keyDir = await mkdtemp(path.join(os.tmpdir(), 'sluice-keys-'));
  await run('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-C',
    'alice@laptop',
    '-f',
    path.join(keyDir, 'id'),
  ]);
  publicKey = (await readFile(path.join(keyDir, 'id.pub'), 'utf8')).trim();
  privateKey = await readFile(path.join(keyDir, 'id'), 'utf8');
});

after(async () => {
  await t.stop();
  await rm(keyDir, { recursive: true, force: true });
});

describe('users', () => {
  it('creates a user with keys and permissions; the response never holds a password or hash', async () => {
    const res = await create({
      userName: 'Alice',
      emailAddress: 'Alice@Example.com',
      firstName: 'Alice',
      lastName: 'Liddell',
      password: 'alice-password-1',
      rights: ['auditor'],
      permissions: [{ path: '/in', permissions: ['list', 'upload'] }],
      sshPublicKeys: [publicKey],
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.headers.get('location'), `/api/v1/users/${res.body.userId}`);
    assert.equal(res.body.homeFolder, '/alice');
    assert.equal(res.body.hasPassword, true);
    assert.deepEqual(res.body.rights, ['auditor']);
    assert.equal(res.body.sshPublicKeys[0]?.comment, 'alice@laptop');
    const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', path.join(keyDir, 'id.pub')]);
    assert.equal(
      res.body.sshPublicKeys[0]?.fingerprint,
      stdout.split(' ')[1],
      'the fingerprint ssh-keygen prints',
    );
    const text = JSON.stringify(res.body);
    assert.doesNotMatch(text, /alice-password-1|argon2|hash"/);

    const got = await call<User>(t.base, 'GET', `/api/v1/users/${res.body.userId}`, { token: admin });
    assert.equal(got.status, 200);
    assert.equal(got.body.emailAddress, 'Alice@Example.com');
  });

  it('keeps user names and e-mail addresses unique, case-insensitively', async () => {
    const name = await create({ userName: 'ALICE', emailAddress: 'other@example.com' });
    assert.equal(name.status, 409);
    assert.equal(name.body.type, '/problems/user-name-taken');
    const email = await create({ userName: 'alice2', emailAddress: 'alice@EXAMPLE.com' });
    assert.equal(email.status, 409);
    assert.equal(email.body.type, '/problems/email-address-taken');
    // The failed creation released the name it had reserved.
    assert.equal((await create({ userName: 'alice2', emailAddress: 'alice2@example.com' })).status, 201);
  });

  it('under concurrent creators: distinct integer ids, and one winner per name', async () => {
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        create({ userName: i % 2 === 0 ? 'racer' : `runner${i}`, emailAddress: `race${i}@example.com` }),
      ),
    );
    const racers = results.filter((_, i) => i % 2 === 0);
    assert.equal(racers.filter((r) => r.status === 201).length, 1, 'exactly one "racer"');
    assert.ok(
      racers.filter((r) => r.status !== 201).every((r) => r.body.type === '/problems/user-name-taken'),
    );
    const ids = results.filter((r) => r.status === 201).map((r) => r.body.userId);
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(ids.length, 7);
  });

  it('lists with filters and cursor paging, without duplicates or gaps', async () => {
    const created: number[] = [];
    let position = 0;
    for (let i = 0; i < 7; i++) {
      const res = await create({
        userName: `pager${i}`,
        emailAddress: `pager${i}@pages.example`,
        rights: i % 2 ? ['auditor'] : [],
      });
      created.push(res.body.userId);
      position = res.body.position;
    }
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof list>> = await list(
        `userName=PAGER&limit=3&minPosition=${position}${cursor ? `&cursor=${cursor}` : ''}`,
      );
      assert.equal(page.status, 200);
      assert.ok(page.body.items.length <= 3);
      seen.push(...page.body.items.map((u) => u.userId));
      cursor = page.body.nextCursor;
    } while (cursor);
    assert.deepEqual(seen, created);
    const auditors = await list(`emailAddress=pager&right=auditor&minPosition=${position}`);
    assert.deepEqual(
      auditors.body.items.map((u) => u.userName),
      ['pager1', 'pager3', 'pager5'],
    );
  });

  it('rejects bad list input with 400: unknown filters, malformed cursors, oversized pages', async () => {
    for (const [query, type] of [
      ['colour=blue', '/problems/validation'],
      ['limit=100000', '/problems/validation'],
      ['limit=0', '/problems/validation'],
      ['cursor=not-a-cursor', '/problems/invalid-cursor'],
      [`cursor=${Buffer.from('{"userId":"x"}').toString('base64url')}`, '/problems/invalid-cursor'],
      ['right=root', '/problems/validation'],
    ]) {
      const res = await list(query!);
      assert.equal(res.status, 400, query);
      assert.equal(res.body.type, type);
    }
  });

  it('changes profile, rights, password, keys and enabled; a PATCH that changes nothing records nothing', async () => {
    const user = await create({
      userName: 'bob',
      emailAddress: 'bob@example.com',
      password: 'bob-password-1',
    });
    const id = user.body.userId;
    const patched = await call<User>(t.base, 'PATCH', `/api/v1/users/${id}`, {
      token: admin,
      body: {
        emailAddress: 'robert@example.com',
        rights: ['impersonate'],
        sshPublicKeys: [publicKey],
        password: 'bob-password-2',
      },
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.emailAddress, 'robert@example.com');
    assert.deepEqual(patched.body.rights, ['impersonate']);
    assert.equal(patched.body.sshPublicKeys.length, 1);
    const signIn = (password: string) =>
      call(t.base, 'POST', '/api/v1/sessions/open', {
        body: { userName: 'bob', password, applicationId: 1, clientVersion: 'x' },
      });
    assert.equal((await signIn('bob-password-1')).status, 401);
    assert.equal((await signIn('bob-password-2')).status, 201);
    // The old address is free again; the new one is taken.
    assert.equal((await create({ userName: 'bob2', emailAddress: 'bob@example.com' })).status, 201);
    assert.equal((await create({ userName: 'bob3', emailAddress: 'ROBERT@example.com' })).status, 409);

    const { pool } = t.database.open({ max: 1 });
    const count = async () =>
      Number(
        (await pool.query('SELECT count(*) FROM events WHERE stream_id = $1', [`user-${id}`])).rows[0].count,
      );
    const before = await count();
    const same = await call(t.base, 'PATCH', `/api/v1/users/${id}`, {
      token: admin,
      body: { rights: ['impersonate'] },
    });
    assert.equal(same.status, 200);
    assert.equal(await count(), before);
  });

  it('refuses bad input: a private key, junk keys, traversal home folders, short passwords, empty patches', async () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [
        { userName: 'k1', emailAddress: 'k1@example.com', sshPublicKeys: [privateKey] },
        '/problems/invalid-public-key',
      ],
      [
        { userName: 'k2', emailAddress: 'k2@example.com', sshPublicKeys: ['ssh-ed25519 AAAAnotbase64!!!'] },
        '/problems/invalid-public-key',
      ],
      [{ userName: 'k3', emailAddress: 'k3@example.com', homeFolder: '/../etc' }, '/problems/validation'],
      [{ userName: 'k4', emailAddress: 'k4@example.com', homeFolder: 'relative' }, '/problems/validation'],
      [{ userName: 'k5', emailAddress: 'k5@example.com', password: 'short' }, '/problems/validation'],
      [{ userName: 'bad name', emailAddress: 'k6@example.com' }, '/problems/validation'],
      [{ userName: 'k7', emailAddress: 'not-an-address' }, '/problems/validation'],
      [
        {
          userName: 'k8',
          emailAddress: 'k8@example.com',
          permissions: [{ path: '/a/./b', permissions: ['list'] }],
        },
        '/problems/validation',
      ],
    ];
    for (const [body, type] of bad) {
      const res = await create(body);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
      assert.equal(res.body.type, type);
    }
    assert.equal((await call(t.base, 'PATCH', '/api/v1/users/1', { token: admin, body: {} })).status, 400);
    assert.equal((await call(t.base, 'GET', '/api/v1/users/123456', { token: admin })).status, 404);
    assert.equal((await call(t.base, 'GET', '/api/v1/users/abc', { token: admin })).status, 400);
  });

  it('deletes a user: its sessions die, its name is free again, and an admin cannot delete itself', async () => {
    const user = await create({
      userName: 'carol',
      emailAddress: 'carol@example.com',
      password: 'carol-password-1',
    });
    const session = await call<{ sessionId: string; token: string }>(
      t.base,
      'POST',
      '/api/v1/sessions/open',
      {
        body: { userName: 'carol', password: 'carol-password-1', applicationId: 1, clientVersion: 'x' },
      },
    );
    assert.equal(
      (await call(t.base, 'DELETE', `/api/v1/users/${user.body.userId}`, { token: admin })).status,
      204,
    );
    const me = await call<ProblemBody>(t.base, 'GET', '/api/v1/sessions/current', {
      token: session.body.token,
    });
    assert.equal(me.body.type, '/problems/user-deleted');
    assert.equal(
      (await call(t.base, 'GET', `/api/v1/users/${user.body.userId}`, { token: admin })).status,
      404,
    );
    const again = await create({ userName: 'CAROL', emailAddress: 'carol@example.com' });
    assert.equal(again.status, 201);
    assert.notEqual(again.body.userId, user.body.userId);
    const self = await call<ProblemBody>(t.base, 'DELETE', '/api/v1/users/1', { token: admin });
    assert.equal(self.status, 409);
    assert.equal(self.body.type, '/problems/cannot-delete-self');
  });

  it('is for admins only', async () => {
    await create({
      userName: 'dave',
      emailAddress: 'dave@example.com',
      password: 'dave-password-1',
      rights: ['auditor'],
    });
    const dave = await call<{ sessionId: string; token: string }>(t.base, 'POST', '/api/v1/sessions/open', {
      body: { userName: 'dave', password: 'dave-password-1', applicationId: 1, clientVersion: 'x' },
    });
    for (const [method, url] of [
      ['GET', '/api/v1/users'],
      ['POST', '/api/v1/users'],
      ['GET', '/api/v1/applications'],
      ['DELETE', '/api/v1/users/1'],
    ]) {
      const res = await call<ProblemBody>(t.base, method!, url!, {
        token: dave.body.token,
        ...(method === 'POST' ? { body: { userName: 'x', emailAddress: 'x@example.com' } } : {}),
      });
      assert.equal(res.status, 403, `${method} ${url}`);
    }
  });
});

describe('applications', () => {
  it('lists the built-in applications first, then registered ones; ids below 1000 cannot be registered', async () => {
    const registered = await call<{ position: number }>(t.base, 'POST', '/api/v1/applications', {
      token: admin,
      body: { applicationId: 1500, name: 'Partner portal', description: 'Uploads from partners' },
    });
    assert.equal(registered.status, 201);
    const page = await call<{ items: Array<{ applicationId: number; builtIn: boolean }> }>(
      t.base,
      'GET',
      `/api/v1/applications?minPosition=${registered.body.position}`,
      { token: admin },
    );
    assert.deepEqual(
      page.body.items.map((a) => [a.applicationId, a.builtIn]),
      [
        [1, true],
        [2, true],
        [3, true],
        [4, true],
        [5, true],
        [1500, false],
      ],
    );
    const reserved = await call<ProblemBody>(t.base, 'POST', '/api/v1/applications', {
      token: admin,
      body: { applicationId: 500, name: 'x' },
    });
    assert.equal(reserved.status, 400);
    const twice = await call<ProblemBody>(t.base, 'POST', '/api/v1/applications', {
      token: admin,
      body: { applicationId: 1500, name: 'x' },
    });
    assert.equal(twice.status, 409);
    assert.equal(twice.body.type, '/problems/application-exists');
    assert.equal(
      (await call(t.base, 'PATCH', '/api/v1/applications/3', { token: admin, body: { enabled: false } }))
        .status,
      400,
    );
    assert.equal(
      (await call(t.base, 'PATCH', '/api/v1/applications/1777', { token: admin, body: { enabled: false } }))
        .status,
      404,
    );
  });
});
