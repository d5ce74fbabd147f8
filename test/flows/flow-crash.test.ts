/**
 * Exactly-once effects across kill -9 (docs/flows.md): the real server process moves 16 files
 * to another user and 16 to an outside OpenSSH server, and is killed with SIGKILL twice while
 * deliveries are under way. After the next start, every file is at its target exactly once with
 * its recorded bytes (no part file left, no second upload recorded), every source is gone, and
 * every delivery succeeded exactly once; attempts cut short are in the log as abandoned.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { type OpenSshServer, startOpenSshServer } from '../support/openssh-server.js';
import { makeDataDir, type ServerProcess, spawnServer } from '../support/server-process.js';
import { openSshBatch } from '../support/sftp-clients.js';
import { ADMIN_PASSWORD, adminSession, createUser } from '../support/sluice.js';
import {
  defineFlow,
  deliveriesOf,
  QUICK_DELIVERIES,
  settledDeliveries,
  sshdFlowTarget,
} from './flow-support.js';

const PASSWORD = 'crash-flow-password';
const FILES = 16;
let database: TestDatabase;
let dataDir: string;
let server: ServerProcess | undefined;
let sshd: OpenSshServer;
let pool: ReturnType<TestDatabase['open']>['pool'];

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function startServer(): Promise<ServerProcess> {
  server = await spawnServer({
    dataDir,
    env: {
      DATABASE_URL: database.url,
      MFT_ADMIN_PASSWORD: ADMIN_PASSWORD,
      MFT_DEFENDER_ALLOW: '127.0.0.1',
      ...QUICK_DELIVERIES,
      MFT_DELIVERY_MAX_ATTEMPTS: '5',
      // An attempt cut short by the kill is taken up again 2 s after it began.
      MFT_DELIVERY_LEASE_SECONDS: '2',
      MFT_DELIVERY_CONCURRENCY: '2',
    },
  });
  return server;
}

/** Kills the server with SIGKILL once some deliveries have succeeded and others have not. */
async function killMidFlow(token: string, succeededAtLeast: number): Promise<number> {
  const running = server!;
  for (;;) {
    const all = await deliveriesOf(running.baseUrl, token, 'kind=flow');
    const succeeded = all.filter((d) => d.state === 'succeeded').length;
    if (succeeded >= succeededAtLeast) {
      running.child.kill('SIGKILL');
      await running.exited;
      return all.length - succeeded;
    }
    await delay(20);
  }
}

before(async () => {
  database = await createTestDatabase('flowcrash');
  pool = database.open({ max: 2 }).pool;
  dataDir = await makeDataDir();
  sshd = await startOpenSshServer();
});

after(async () => {
  await server?.stop('SIGINT');
  await sshd?.stop();
  await database?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('flows across kill -9', () => {
  it('delivers every file exactly once', async () => {
    let running = await startServer();
    let admin = await adminSession(running.baseUrl);
    const partner = await createUser(running.baseUrl, admin, {
      userName: 'partner',
      emailAddress: 'partner@example.com',
      password: PASSWORD,
    });
    const finance = await createUser(running.baseUrl, admin, {
      userName: 'finance',
      emailAddress: 'finance@example.com',
      password: PASSWORD,
    });
    await defineFlow(running.baseUrl, admin, {
      name: 'to finance',
      sourceUserId: partner,
      sourceFolder: '/inbox',
      match: { kind: 'glob', pattern: '*.dat' },
      target: { kind: 'user', userId: finance, folder: '/in' },
    });
    await defineFlow(running.baseUrl, admin, {
      name: 'to the bank',
      sourceUserId: partner,
      sourceFolder: '/out',
      match: { kind: 'glob', pattern: '*.dat' },
      target: sshdFlowTarget(sshd),
      credentials: { privateKey: sshd.privateKey },
    });

    const contents = new Map<string, Buffer>();
    const batch = ['mkdir inbox', 'mkdir out'];
    for (let i = 0; i < FILES; i++) {
      for (const folder of ['inbox', 'out']) {
        const name = `${folder}-${i}.dat`;
        const data = randomBytes(512 * 1024 + i);
        contents.set(name, data);
        const local = path.join(dataDir, `upload-${name}`);
        await writeFile(local, data);
        batch.push(`put ${local} ${folder}/${name}`);
      }
    }
    const uploaded = await openSshBatch(
      Number(running.env.MFT_SFTP_PORT),
      'partner',
      { password: PASSWORD },
      batch,
    );
    assert.equal(uploaded.code, 0, uploaded.stderr);

    const unfinishedAtFirstKill = await killMidFlow(admin, 3);
    running = await startServer();
    admin = await adminSession(running.baseUrl);
    const unfinishedAtSecondKill = await killMidFlow(admin, FILES);
    assert.ok(unfinishedAtFirstKill > 0 && unfinishedAtSecondKill > 0, 'both kills land mid-flow');
    running = await startServer();
    admin = await adminSession(running.baseUrl);

    const settled = await settledDeliveries(running.baseUrl, admin, 'kind=flow', 2 * FILES, 120_000);
    assert.deepEqual(
      settled.filter((d) => d.state !== 'succeeded'),
      [],
      'every delivery succeeded',
    );
    assert.equal(settled.length, 2 * FILES, 'one delivery per upload, none scheduled twice');

    // The targets hold each file once, with its bytes; nothing partial is left anywhere.
    const financeDir = path.join(dataDir, 'files', 'finance', 'in');
    const bankFiles = (await readdir(sshd.root)).sort();
    assert.deepEqual(bankFiles, [...contents.keys()].filter((n) => n.startsWith('out-')).sort());
    assert.deepEqual(
      (await readdir(financeDir)).sort(),
      [...contents.keys()].filter((n) => n.startsWith('inbox-')).sort(),
    );
    for (const [name, data] of contents) {
      const at = name.startsWith('out-') ? path.join(sshd.root, name) : path.join(financeDir, name);
      assert.equal(sha256(await readFile(at)), sha256(data), name);
    }
    assert.deepEqual(await readdir(path.join(dataDir, 'files', 'partner', 'inbox')), []);
    assert.deepEqual(await readdir(path.join(dataDir, 'files', 'partner', 'out')), []);

    // The log: one recorded upload per file at finance, one success per delivery.
    const { rows: uploads } = await pool.query<{ path: string; n: string }>(
      `SELECT data->>'path' AS path, count(*) AS n FROM events
        WHERE type = 'FileUploaded' AND (metadata->'actor'->>'userId')::int = $1 GROUP BY 1`,
      [finance],
    );
    assert.equal(uploads.length, FILES);
    assert.ok(
      uploads.every((u) => Number(u.n) === 1),
      JSON.stringify(uploads),
    );
    const { rows: successes } = await pool.query<{ stream_id: string; n: string }>(
      `SELECT stream_id, count(*) AS n FROM events WHERE type = 'DeliverySucceeded' GROUP BY 1`,
    );
    assert.equal(successes.length, 2 * FILES);
    assert.ok(successes.every((s) => Number(s.n) === 1));
    const { rows: abandoned } = await pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM events WHERE type = 'DeliveryAttemptFailed' AND data->>'error' LIKE 'abandoned%'`,
    );
    process.stdout.write(
      `# unfinished at the kills: ${unfinishedAtFirstKill}, ${unfinishedAtSecondKill}; abandoned attempts: ${abandoned[0]?.n}\n`,
    );
  });
});
