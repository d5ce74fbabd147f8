/**
 * Issue 15: a user's SSH connections are counted across instances (leases in PostgreSQL):
 * 30 paramiko sign-ins at once, spread over two Sluice instances on one database, with a limit
 * of 10 → exactly 10 get through; the leases are given back when the connections end; and the
 * connections of an instance killed without stopping (a real server process, SIGKILL) stop
 * counting once its instance lease runs out.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { metricSamples } from '../support/metrics.js';
import { spawnServer } from '../support/server-process.js';
import { paramikoAtOnce } from '../support/sftp-clients.js';
import { adminSession, call, startTestSluice, type TestSluice } from '../support/sluice.js';

const PASSWORD = 'across-instances-password';
const ENV = { MFT_SFTP_MAX_CONNECTIONS_PER_USER: '10', MFT_SSH_MAX_UNAUTHENTICATED_PER_ADDRESS: '100' };
let t: TestSluice;
let second: TestSluice;
let userId: number;

async function query<T>(text: string, params: unknown[] = []): Promise<T[]> {
  const { pool } = t.database.open({ max: 1 });
  return (await pool.query(text, params)).rows as T[];
}

const leases = async () =>
  (
    await query<{ n: number }>('SELECT count(*)::int AS n FROM connection_leases WHERE user_id = $1', [
      userId,
    ])
  )[0]!.n;

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting: ${what}`);
}

const refused = async (base: string) =>
  (await metricSamples(base, 'sluice_refusals_total'))[
    'sluice_refusals_total{reason="sftp-connections-per-user"}'
  ] ?? 0;

before(async () => {
  t = await startTestSluice({ env: ENV });
  second = await startTestSluice({ env: ENV, database: t.database });
  const admin = await adminSession(t.base);
  const res = await call<{ userId: number }>(t.base, 'POST', '/api/v1/users', {
    token: admin,
    body: { userName: 'ivy', emailAddress: 'ivy@example.com', password: PASSWORD, permissions: [] },
  });
  assert.equal(res.status, 201);
  userId = res.body.userId;
});

after(async () => {
  await second?.stop();
  await t?.stop();
});

describe("a user's connections across instances", () => {
  it('of 30 simultaneous sign-ins over two instances with a limit of 10, exactly 10 get through, twice', async () => {
    const ports = [t.sluice.sftpPort, second.sluice.sftpPort];
    assert.deepEqual(await paramikoAtOnce(ports, 'ivy', PASSWORD, 30), { ok: 10, refused: 20 });
    assert.equal((await refused(t.base)) + (await refused(second.base)), 20);
    // Each refusal is in the log, with why; each admitted connection is opened there.
    const recorded = async (type: string) =>
      (await query<{ n: string }>(`SELECT count(*) AS n FROM events WHERE type = $1`, [type]))[0]?.n;
    const reasons = await query<{ reason: string }>(
      `SELECT DISTINCT data->>'reason' AS reason FROM events WHERE type = 'ConnectionRefused'`,
    );
    assert.equal(await recorded('ConnectionRefused'), '20');
    assert.deepEqual(reasons, [{ reason: 'connection limit per user reached' }]);
    assert.equal(await recorded('ConnectionOpened'), '10');
    await until(async () => (await leases()) === 0, 'every lease given back');
    assert.deepEqual(await paramikoAtOnce(ports, 'ivy', PASSWORD, 30), { ok: 10, refused: 20 });
    await until(async () => (await leases()) === 0, 'every lease given back');
  });

  it('stops counting the connections of an instance killed without stopping once its lease runs out', async () => {
    const dead = await spawnServer({
      env: { DATABASE_URL: t.database.url, MFT_INSTANCE_LEASE_SECONDS: '15' },
    });
    const port = Number(dead.env.MFT_SFTP_PORT);
    // paramiko holds 10 connections on the doomed instance until it is killed.
    const holder = spawn('/usr/bin/python3', [
      '-c',
      `
import sys, time, paramiko
clients = []
for i in range(10):
    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    c.connect("127.0.0.1", port=int(sys.argv[1]), username="ivy", password=sys.argv[2], allow_agent=False, look_for_keys=False)
    c.open_sftp().listdir("/")
    clients.append(c)
print("held", flush=True)
time.sleep(300)
`,
      String(port),
      PASSWORD,
    ]);
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('held')) resolve();
        });
        holder.on('exit', (code) => reject(new Error(`the holder exited (${code})`)));
      });
      assert.equal(await leases(), 10);
      await dead.stop('SIGKILL');
      // Its leases still count while its instance lease holds (15 s): the limit is reached.
      assert.deepEqual(await paramikoAtOnce([t.sluice.sftpPort], 'ivy', PASSWORD, 1), { ok: 0, refused: 1 });
      await until(
        async () =>
          (
            await query(
              'SELECT 1 FROM instance_leases WHERE expires_at > now() AND instance_id IN (SELECT instance_id FROM connection_leases)',
            )
          ).length === 0,
        'the dead instance lease to run out',
      );
      assert.deepEqual(
        await paramikoAtOnce([t.sluice.sftpPort, second.sluice.sftpPort], 'ivy', PASSWORD, 12),
        {
          ok: 10,
          refused: 2,
        },
      );
    } finally {
      holder.kill('SIGKILL');
      await dead.stop('SIGKILL');
    }
  });
});
