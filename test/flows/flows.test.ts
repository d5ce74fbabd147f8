/**
 * Flows end to end (docs/flows.md): files uploaded with OpenSSH's sftp into one user's folder
 * reach another user's folder (read back with sftp as that user) or an outside OpenSSH server;
 * trigger files hold a batch back until they arrive; failures retry, dead-letter and requeue;
 * every step is in the audit view; bad definitions change nothing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { metricSamples } from '../support/metrics.js';
import { type OpenSshServer, startOpenSshServer } from '../support/openssh-server.js';
import { openSshBatch } from '../support/sftp-clients.js';
import { adminSession, call, startTestSluice, type TestSluice, viewsCaughtUp } from '../support/sluice.js';
import {
  createFolderUser,
  defineFlow,
  deliveriesOf,
  QUICK_DELIVERIES,
  settledDeliveries,
  sshdFlowTarget,
  storedSecrets,
  uploadWithSftp,
} from './flow-support.js';

const run = promisify(execFile);
const PASSWORD = 'flow-test-password';
let t: TestSluice;
let admin: string;
let work: string;
let partnerId: number;
let financeId: number;
let sshd: OpenSshServer;

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const sftpPort = () => t.sluice.sftpPort;
const onDisk = (home: string, file: string) => path.join(t.dataDir, 'files', home, file);

/** A flow's target: the test's OpenSSH server, by key unless `changes` say otherwise. */
const sshdTarget = (changes: Record<string, unknown> = {}) => sshdFlowTarget(sshd, changes);

const upload = (user: string, files: Record<string, string>, folder: string) =>
  uploadWithSftp(sftpPort(), work, { name: user, password: PASSWORD }, files, folder);

before(async () => {
  t = await startTestSluice({ env: QUICK_DELIVERIES });
  admin = await adminSession(t.base);
  work = await mkdtemp(path.join(os.tmpdir(), 'sluice-flows-'));
  // The partner may only upload into its inbox (and list it): the flow reads and removes for it.
  partnerId = await createFolderUser(t.base, admin, 'partner', PASSWORD, ['list', 'upload', 'mkdir']);
  financeId = await createFolderUser(t.base, admin, 'finance', PASSWORD, ['list', 'download']);
  const made = await openSshBatch(sftpPort(), 'partner', { password: PASSWORD }, [
    'mkdir inbox',
    'mkdir batches',
    'mkdir named',
    'mkdir out',
  ]);
  assert.equal(made.code, 0, made.stderr);
  sshd = await startOpenSshServer();
});

after(async () => {
  await sshd?.stop();
  await t?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('flows', () => {
  it('moves matching complete uploads to another user, recorded step by step', async () => {
    const flowId = await defineFlow(t.base, admin, {
      name: 'partner inbox to finance',
      sourceUserId: partnerId,
      sourceFolder: '/inbox',
      match: { kind: 'glob', pattern: '*.csv' },
      target: { kind: 'user', userId: financeId, folder: '/' },
    });
    await upload(
      'partner',
      { 'a.csv': 'id,amount\n1,10\n', 'b.csv': 'id,amount\n2,20\n', 'notes.txt': 'not moved' },
      'inbox',
    );
    const done = await settledDeliveries(t.base, admin, `ownerId=${flowId}`, 2);
    assert.deepEqual(done.map((d) => [d.state, d.file?.path]).sort(), [
      ['succeeded', '/inbox/a.csv'],
      ['succeeded', '/inbox/b.csv'],
    ]);
    // Finance reads them with its own client; the partner's copies are gone, the text file stays.
    const local = path.join(work, 'finance-a.csv');
    const got = await openSshBatch(sftpPort(), 'finance', { password: PASSWORD }, [`get a.csv ${local}`]);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(await readFile(local, 'utf8'), 'id,amount\n1,10\n');
    assert.equal(existsSync(onDisk('partner', 'inbox/a.csv')), false);
    assert.equal(existsSync(onDisk('partner', 'inbox/notes.txt')), true);

    // The audit view tells who did what: the flow (application 5) wrote for finance, deleted for the partner.
    await viewsCaughtUp(t);
    const audit = await call<{ items: Array<Record<string, unknown>> }>(
      t.base,
      'GET',
      `/api/v1/audit/events?path=${encodeURIComponent('/a.csv')}&limit=50`,
      { token: admin },
    );
    assert.equal(audit.status, 200, JSON.stringify(audit.body));
    const written = audit.body.items.find((r) => r.operation === 'file.upload');
    assert.ok(written, JSON.stringify(audit.body.items));
    assert.equal(written.userId, financeId);
    assert.equal(written.applicationId, 5);
    assert.equal(written.protocol, 'flow');
    assert.equal(written.sha256, sha256('id,amount\n1,10\n'));
    const steps = await call<{ items: Array<Record<string, unknown>> }>(
      t.base,
      'GET',
      `/api/v1/audit/events?operation=delivery.attempt&limit=500`,
      { token: admin },
    );
    const ids = new Set(done.map((d) => `delivery:${d.deliveryId}`));
    const outcomes = steps.body.items.filter((r) => ids.has(String(r.target))).map((r) => r.outcome);
    assert.deepEqual(outcomes.sort(), ['started', 'started', 'success', 'success']);
  });

  it('holds files back until a trigger file releases the batch, or the file it names', async () => {
    const batchFlow = await defineFlow(t.base, admin, {
      name: 'batches',
      sourceUserId: partnerId,
      sourceFolder: '/batches',
      match: { kind: 'regex', pattern: '^part-\\d+\\.dat$' },
      trigger: { suffix: '.done', releases: 'batch' },
      target: { kind: 'user', userId: financeId, folder: '/batches-in' },
    });
    const namedFlow = await defineFlow(t.base, admin, {
      name: 'named',
      sourceUserId: partnerId,
      sourceFolder: '/named',
      match: { kind: 'glob', pattern: '*' },
      trigger: { suffix: '.trg', releases: 'named' },
      target: { kind: 'user', userId: financeId, folder: '/named-in' },
      keepSource: true,
    });
    await upload('partner', { 'part-1.dat': 'one', 'part-2.dat': 'two' }, 'batches');
    await upload('partner', { 'x.bin': 'x', 'y.bin': 'y' }, 'named');
    await viewsCaughtUp(t);
    assert.deepEqual(
      await deliveriesOf(t.base, admin, `ownerId=${batchFlow}`),
      [],
      'nothing before the trigger',
    );
    assert.deepEqual(await deliveriesOf(t.base, admin, `ownerId=${namedFlow}`), []);

    await upload('partner', { 'ready.done': '' }, 'batches');
    await upload('partner', { 'x.bin.trg': '' }, 'named');
    const batch = await settledDeliveries(t.base, admin, `ownerId=${batchFlow}`, 2);
    assert.deepEqual(batch.map((d) => d.file?.path).sort(), ['/batches/part-1.dat', '/batches/part-2.dat']);
    assert.ok(
      batch.every((d) => d.state === 'succeeded' && d.causeType === 'FileUploaded'),
      JSON.stringify(batch),
    );
    const named = await settledDeliveries(t.base, admin, `ownerId=${namedFlow}`, 1);
    assert.deepEqual(
      named.map((d) => d.file?.path),
      ['/named/x.bin'],
    );
    assert.equal(await readFile(onDisk('finance', 'batches-in/part-2.dat'), 'utf8'), 'two');
    assert.equal(await readFile(onDisk('finance', 'named-in/x.bin'), 'utf8'), 'x');
    assert.equal(existsSync(onDisk('finance', 'named-in/y.bin')), false, 'y.bin has no trigger');
    assert.equal(existsSync(onDisk('partner', 'named/x.bin')), true, 'keepSource leaves it');
    assert.equal(existsSync(onDisk('finance', 'batches-in/ready.done')), false, 'a trigger is never moved');
  });

  it('sends files to an outside SFTP server with its pinned host key, verified, resumable', async () => {
    const flowId = await defineFlow(t.base, admin, {
      name: 'to the bank',
      sourceUserId: partnerId,
      sourceFolder: '/out',
      match: { kind: 'glob', pattern: '*.xml' },
      target: sshdTarget(),
      credentials: { privateKey: sshd.privateKey },
    });
    const big = 'x'.repeat(3 * 1024 * 1024);
    await upload('partner', { 'pay.xml': big, 'small.xml': '<a/>' }, 'out');
    const done = await settledDeliveries(t.base, admin, `ownerId=${flowId}`, 2);
    assert.ok(
      done.every((d) => d.state === 'succeeded'),
      JSON.stringify(done),
    );
    assert.equal(sha256(await readFile(path.join(sshd.root, 'pay.xml'))), sha256(big));
    assert.equal(await readFile(path.join(sshd.root, 'small.xml'), 'utf8'), '<a/>');
    assert.equal(existsSync(onDisk('partner', 'out/pay.xml')), false, 'moved out');
    // The credential is nowhere in the flow as the API shows it.
    const shown = await call(t.base, 'GET', `/api/v1/flows/${flowId}`, { token: admin });
    assert.equal(shown.status, 200);
    assert.doesNotMatch(JSON.stringify(shown.body), /PRIVATE KEY/);
    // Removed, the flow keeps no credential.
    assert.equal(await storedSecrets(t, flowId), 1);
    const removed = await call(t.base, 'DELETE', `/api/v1/flows/${flowId}`, { token: admin });
    assert.equal(removed.status, 204);
    assert.equal(await storedSecrets(t, flowId), 0);
  });

  it('dead-letters what cannot succeed, and requeues it on request', async () => {
    const flowId = await defineFlow(t.base, admin, {
      name: 'wrong host key',
      sourceUserId: partnerId,
      sourceFolder: '/inbox',
      match: { kind: 'glob', pattern: '*.pgp' },
      target: sshdTarget({ hostKeySha256: `SHA256:${'A'.repeat(43)}` }),
      credentials: { privateKey: sshd.privateKey },
    });
    await upload('partner', { 'secret.pgp': 'payload' }, 'inbox');
    const [dead] = await settledDeliveries(t.base, admin, `ownerId=${flowId}`, 1);
    assert.equal(dead?.state, 'dead');
    assert.equal(dead?.attempts, 1, 'a host key mismatch is not retried');
    assert.match(dead?.lastError ?? '', /host key/i);
    assert.equal(existsSync(path.join(sshd.root, 'secret.pgp')), false);
    assert.equal(existsSync(onDisk('partner', 'inbox/secret.pgp')), true, 'the source stays');
    const listed = await deliveriesOf(t.base, admin, 'state=dead');
    assert.ok(listed.some((d) => d.deliveryId === dead?.deliveryId));
    // Prometheus sees the dead letter and the attempts.
    const gauge = await metricSamples(t.base, 'sluice_deliveries');
    assert.ok((gauge['sluice_deliveries{state="dead"}'] ?? 0) >= 1, JSON.stringify(gauge));
    const attempts = await metricSamples(t.base, 'sluice_delivery_attempts_total');
    assert.ok(
      (attempts['sluice_delivery_attempts_total{kind="flow",outcome="failed"}'] ?? 0) >= 1,
      JSON.stringify(attempts),
    );
    assert.ok((attempts['sluice_delivery_attempts_total{kind="flow",outcome="succeeded"}'] ?? 0) >= 2);

    const again = await call(t.base, 'POST', `/api/v1/deliveries/${dead?.deliveryId}/requeue`, {
      token: admin,
    });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    const retried = await settledDeliveries(
      t.base,
      admin,
      `ownerId=${flowId}&minPosition=${again.body.position}`,
      1,
    );
    assert.equal(retried[0]?.state, 'dead');
    assert.equal(retried[0]?.attempts, 2, 'tried once more');
    const unknown = await call(
      t.base,
      'POST',
      '/api/v1/deliveries/01900000-0000-7000-8000-000000000001/requeue',
      {
        token: admin,
      },
    );
    assert.equal(unknown.status, 404);
  });

  it('refuses bad definitions with a clear error and records nothing', async () => {
    const base = {
      name: 'bad',
      sourceUserId: partnerId,
      sourceFolder: '/inbox',
      match: { kind: 'glob', pattern: '*' },
      target: { kind: 'user', userId: financeId, folder: '/' },
    };
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ ...base, target: { kind: 'user', userId: partnerId, folder: '/x' } }, 400, 'invalid-flow'],
      [{ ...base, match: { kind: 'regex', pattern: '([' } }, 400, 'invalid-flow'],
      [{ ...base, sourceUserId: 999_999 }, 400, 'invalid-flow'],
      [{ ...base, sourceFolder: 'in\u0000box' }, 400, 'validation'],
      [{ ...base, sourceFolder: '/../../etc' }, 400, 'invalid-flow'],
      [{ ...base, target: { ...base.target, kind: 'ftp' } }, 400, 'validation'],
      [{ ...base, trigger: { suffix: '../x', releases: 'named' } }, 400, 'validation'],
      [{ ...base, credentials: { password: 'x' } }, 400, 'invalid-flow'],
      [{ ...base, name: 'x'.repeat(101) }, 400, 'validation'],
      [
        {
          ...base,
          target: {
            kind: 'sftp',
            host: '127.0.0.1',
            port: 22,
            username: 'u',
            hostKeySha256: `SHA256:${'A'.repeat(43)}`,
            directory: '/',
            auth: 'key',
          },
          credentials: { privateKey: 'not a key' },
        },
        400,
        'invalid-flow',
      ],
      // Refused after its credentials were checked: they must not be stored either.
      [
        {
          ...base,
          match: { kind: 'regex', pattern: '([' },
          target: sshdTarget({ auth: 'password' }),
          credentials: { password: 'secret' },
        },
        400,
        'invalid-flow',
      ],
    ];
    await viewsCaughtUp(t);
    const secretsBefore = await storedSecrets(t);
    const before = (
      await call<{ items: unknown[] }>(t.base, 'GET', '/api/v1/flows?limit=500', { token: admin })
    ).body.items.length;
    for (const [body, status, type] of cases) {
      const res = await call<{ type: string }>(t.base, 'POST', '/api/v1/flows', { token: admin, body });
      assert.equal(res.status, status, `${JSON.stringify(body)} → ${JSON.stringify(res.body)}`);
      assert.match(res.body.type, new RegExp(type));
    }
    await viewsCaughtUp(t);
    const after = (
      await call<{ items: unknown[] }>(t.base, 'GET', '/api/v1/flows?limit=500', { token: admin })
    ).body.items.length;
    assert.equal(after, before);
    assert.equal(await storedSecrets(t), secretsBefore, 'no credentials of a refused flow are kept');
    const partner = await call<{ token: string }>(t.base, 'POST', '/api/v1/sessions/open-immutable', {
      body: { userName: 'partner', password: PASSWORD, applicationId: 1, clientVersion: 'tests' },
    });
    const forbidden = await call(t.base, 'POST', '/api/v1/flows', { token: partner.body.token, body: base });
    assert.equal(forbidden.status, 403);
    const unknown = await call(t.base, 'DELETE', '/api/v1/flows/01900000-0000-7000-8000-000000000000', {
      token: admin,
    });
    assert.equal(unknown.status, 404);
  });
  it('rebuilds the flows, notifiers and deliveries views to the live rows, scheduling nothing new', async () => {
    const { pool } = t.database.open({ max: 1 });
    const snapshot = async () => {
      const out: Record<string, unknown> = {};
      const tables: Array<[string, string]> = [
        ['flows', 'flow_id'],
        ['flow_waiting_files', 'flow_id, path'],
        ['flow_scan_setting', 'id'],
        ['notifiers', 'notifier_id'],
        ['deliveries', 'delivery_id'],
      ];
      for (const [table, key] of tables)
        out[table] = (await pool.query(`SELECT * FROM ${table} ORDER BY ${key}`)).rows;
      out.scheduled = (await pool.query(`SELECT count(*) FROM events WHERE type = 'DeliveryScheduled'`)).rows;
      return out;
    };
    await viewsCaughtUp(t);
    const live = await snapshot();
    for (const view of ['flows', 'notifiers', 'deliveries']) {
      const rebuilt = await run(process.execPath, ['--import', 'tsx', 'src/cli/rebuild.ts', view], {
        env: { ...process.env, DATABASE_URL: t.database.url },
      });
      assert.match(rebuilt.stderr, new RegExp(`${view} rebuilt up to position`));
    }
    assert.deepEqual(await snapshot(), live);
  });
});
