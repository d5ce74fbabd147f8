/**
 * Limits on SSH connections, with real clients: raw TCP clients and paramiko hold connections
 * without signing in (caps per address and in total, the sign-in timeout); paramiko opens 30
 * SFTP sessions of one user at once against a limit of 10.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { paramiko, paramikoAtOnce } from '../support/sftp-clients.js';
import { adminSession, call, startTestSluice, type TestSluice } from '../support/sluice.js';

const PASSWORD = 'limits-test-password';

async function refusals(base: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(/^sluice_refusals_total\{reason="([a-z-]+)"\} (\d+)$/gm)) {
    counts[match[1]!] = Number(match[2]);
  }
  return counts;
}

interface Held {
  readonly socket: net.Socket;
  /** Resolves when the server closes the connection. */
  readonly closed: Promise<void>;
}

/**
 * Connects from `localAddress` and sends an SSH identification line, then nothing more. Resolves
 * once the server has decided: 'admitted' (its own identification line arrives) or 'refused'
 * (closed without a byte).
 */
function holdUnauthenticated(port: number, localAddress: string): Promise<Held | 'refused'> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    let received = '';
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => {});
    socket.once('connect', () => socket.write('SSH-2.0-SlowClient_1.0\r\n'));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (received.includes('\n')) {
        if (!received.startsWith('SSH-2.0-Sluice')) reject(new Error(`unexpected greeting ${received}`));
        resolve({ socket, closed });
      }
    });
    void closed.then(() => {
      if (received === '') resolve('refused');
    });
  });
}

describe('SSH connections before sign-in', () => {
  let t: TestSluice;
  before(async () => {
    t = await startTestSluice({
      env: {
        MFT_SSH_AUTH_TIMEOUT_SECONDS: '2',
        MFT_SSH_MAX_UNAUTHENTICATED: '30',
        MFT_SSH_MAX_UNAUTHENTICATED_PER_ADDRESS: '8',
      },
    });
    const admin = await adminSession(t.base);
    const res = await call(t.base, 'POST', '/api/v1/users', {
      token: admin,
      body: { userName: 'gina', emailAddress: 'gina@example.com', password: PASSWORD, permissions: [] },
    });
    assert.equal(res.status, 201);
  });
  after(() => t.stop());

  it('caps them per address and in total, and cuts every one that does not sign in', async () => {
    const port = t.sluice.sftpPort;
    // 60 connections, 10 from each of six loopback addresses, one after another.
    const held: Held[] = [];
    const refusedFrom: Record<string, number> = {};
    for (let a = 2; a <= 7; a++) {
      const address = `127.0.0.${a}`;
      for (let i = 0; i < 10; i++) {
        const outcome = await holdUnauthenticated(port, address);
        if (outcome === 'refused') refusedFrom[address] = (refusedFrom[address] ?? 0) + 1;
        else held.push(outcome);
      }
    }
    // 8 per address from the first three (2 refused each), 6 more from the fourth, then the total of 30 is reached.
    assert.equal(held.length, 30);
    assert.deepEqual(refusedFrom, {
      '127.0.0.2': 2,
      '127.0.0.3': 2,
      '127.0.0.4': 2,
      '127.0.0.5': 4,
      '127.0.0.6': 10,
      '127.0.0.7': 10,
    });
    let counts = await refusals(t.base);
    assert.equal(counts['ssh-unauthenticated-per-address'], 6);
    assert.equal(counts['ssh-unauthenticated-total'], 24);

    // None of them signs in: the server cuts every one (the sign-in timeout is 2 s).
    await Promise.all(held.map((h) => h.closed));
    counts = await refusals(t.base);
    assert.equal(counts['ssh-auth-timeout'], 30);

    // A real SSH client that completes key exchange but never authenticates is cut as well,
    // while one that signs in keeps its connection past the timeout.
    const script = `
import sys, time, paramiko
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
idle = paramiko.Transport((host, port))
idle.start_client(timeout=30)
c = paramiko.SSHClient()
c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
c.connect(host, port=port, username=user, password=password, allow_agent=False, look_for_keys=False)
sftp = c.open_sftp()
for _ in range(600):
    if not idle.is_active():
        break
    time.sleep(0.1)
print("idle", "closed" if not idle.is_active() else "open")
print("signed-in", sftp.listdir("/"))
c.close()
`;
    const result = await paramiko(script, port, 'gina', PASSWORD);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^idle closed$/m);
    assert.match(result.stdout, /^signed-in \[\]$/m);
    counts = await refusals(t.base);
    assert.equal(counts['ssh-auth-timeout'], 31);
  });
});

describe('SFTP connections per user', () => {
  let t: TestSluice;
  before(async () => {
    t = await startTestSluice({
      env: { MFT_SFTP_MAX_CONNECTIONS_PER_USER: '10', MFT_SSH_MAX_UNAUTHENTICATED_PER_ADDRESS: '100' },
    });
    const admin = await adminSession(t.base);
    const res = await call(t.base, 'POST', '/api/v1/users', {
      token: admin,
      body: { userName: 'hank', emailAddress: 'hank@example.com', password: PASSWORD, permissions: [] },
    });
    assert.equal(res.status, 201);
  });
  after(() => t.stop());

  it('of 30 simultaneous sign-ins with a limit of 10, exactly 10 get a session', async () => {
    // Each thread signs in and opens SFTP; all hold their connection until every thread is done.
    assert.deepEqual(await paramikoAtOnce([t.sluice.sftpPort], 'hank', PASSWORD, 30), {
      ok: 10,
      refused: 20,
    });
    assert.equal((await refusals(t.base))['sftp-connections-per-user'], 20);
  });
});
