/**
 * Start-up with EVENTSTORE_URL set but KurrentDB out of reach: the real server process stops with
 * exit code 1 and one line on stderr naming the URL without its password, within its bounded
 * wait (10 s) — never hanging, never a stack trace. The read-model database is a real one (the
 * test server), so only KurrentDB is missing.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { spawnServer } from '../support/server-process.js';

describe('start-up with an unreachable KurrentDB', () => {
  const dirs: string[] = [];
  const databases: TestDatabase[] = [];
  after(async () => {
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
    await Promise.all(databases.map((db) => db.drop()));
  });

  async function start(eventStoreUrl: string) {
    const database = await createTestDatabase('kdb');
    databases.push(database);
    const server = await spawnServer({
      env: { DATABASE_URL: database.url, EVENTSTORE_URL: eventStoreUrl },
      waitForListening: false,
    });
    dirs.push(server.dataDir);
    const code = await server.exited;
    const stderr = server.stderr();
    assert.equal(stderr.trim().split('\n').length, 1, `one line, no stack trace: ${stderr}`);
    assert.doesNotMatch(stderr, /secret-pw/, 'the password never appears');
    return { code, stderr, lines: server.lines };
  }

  it('connection refused: exits 1 at once with one clear line', { timeout: 60_000 }, async () => {
    const { code, stderr, lines } = await start('esdb://admin:secret-pw@127.0.0.1:1?tls=false');
    assert.equal(code, 1);
    assert.match(
      stderr,
      /^sluice: cannot start: cannot reach KurrentDB at esdb:\/\/admin@127\.0\.0\.1:1\?tls=false: .*ECONNREFUSED.*\n$/,
    );
    assert.ok(!lines.some((l) => l.includes('HTTP API listening')));
  });

  it('a server that accepts connections but never answers: exits 1 after the bounded wait', {
    timeout: 60_000,
  }, async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const { code, stderr } = await start(`kurrentdb://admin:secret-pw@127.0.0.1:${port}?tls=false`);
      assert.equal(code, 1);
      assert.match(
        stderr,
        new RegExp(
          `^sluice: cannot start: cannot reach KurrentDB at kurrentdb://admin@127\\.0\\.0\\.1:${port}\\?tls=false: .+\\n$`,
        ),
      );
    } finally {
      silent.close();
    }
  });

  it('a connection string the client cannot parse: exits 1 naming what it expected', {
    timeout: 60_000,
  }, async () => {
    const { code, stderr } = await start('esdb://admin:secret-pw@127.0.0.1:2113?tls=maybe');
    assert.equal(code, 1);
    assert.match(
      stderr,
      /^sluice: cannot start: EVENTSTORE_URL esdb:\/\/admin@127\.0\.0\.1:2113\?tls=maybe is not a connection string the KurrentDB client accepts \(expected true or false\)\n$/,
    );
  });
});
