/**
 * A delete whose event cannot be appended (PostgreSQL refuses connections: a real failure, not
 * a stub) is answered with the failure; the file stays out of sight while its fate is unknown,
 * and once the database answers again the change is recorded as undone and the file put back.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { migrate } from '../../src/adapters/database/migrate.js';
import { AppendNotifier } from '../../src/adapters/eventstore/postgres/append-notifier.js';
import { eventStoreMigrations } from '../../src/adapters/eventstore/postgres/migrations/index.js';
import { PostgresEventStore } from '../../src/adapters/eventstore/postgres/postgres-event-store.js';
import { DiskIntentJournal } from '../../src/adapters/storage/intent-journal.js';
import { LocalDisk } from '../../src/adapters/storage/local-disk.js';
import { FileOperations } from '../../src/application/files/file-operations.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { makeDataDir } from '../support/server-process.js';

let database: TestDatabase;
let store: PostgresEventStore;
let dataDir: string;
let pool: pg.Pool;

/** Lets connections to the test database in, or refuses them and ends the open ones. */
async function allowConnections(allow: boolean): Promise<void> {
  const admin = new pg.Client({ connectionString: database.url.replace(/\/[^/]*$/, '/postgres') });
  await admin.connect();
  try {
    await admin.query(`ALTER DATABASE ${database.name} ALLOW_CONNECTIONS ${allow}`);
    if (!allow)
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [
        database.name,
      ]);
  } finally {
    await admin.end();
  }
}

before(async () => {
  database = await createTestDatabase('unsettled');
  const handle = database.open({ max: 4 });
  pool = handle.pool;
  await migrate(handle.db, { name: 'eventstore', migrations: eventStoreMigrations });
  store = new PostgresEventStore({ db: handle.db, notifier: new AppendNotifier(database.url) });
  dataDir = await makeDataDir();
});

after(async () => {
  await allowConnections(true);
  await store.close();
  await database.drop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('a change whose event cannot be appended', () => {
  it('fails, keeps the file out of sight, then is recorded as undone and put back once the database answers', async () => {
    const intents = path.join(dataDir, 'intents');
    const disk = new LocalDisk(path.join(dataDir, 'files'), path.join(dataDir, 'uploads'), intents);
    await disk.prepare();
    const files = new FileOperations({
      storage: disk,
      journal: new DiskIntentJournal(intents),
      store,
      clock: { now: () => new Date() },
      ids: { uuid: uuidv7 },
    });
    const session = files.session({
      userId: 9,
      userName: 'zoe',
      homeFolder: '/zoe',
      permissions: [],
      sessionId: uuidv7(),
      applicationId: 2,
      userString: null,
      clientIp: '127.0.0.1',
      protocol: 'http',
    });
    const home = await disk.home('/zoe');
    await writeFile(path.join(home, 'x.txt'), 'still here');

    await allowConnections(false);
    await assert.rejects(session.remove('/x.txt'));
    assert.equal(existsSync(path.join(home, 'x.txt')), false, 'out of sight while its fate is unknown');
    assert.equal((await readdir(intents)).length, 2, 'the note and the kept file');

    await allowConnections(true);
    let settled: { finished: number; undone: number } | undefined;
    // The pool may hand out one connection PostgreSQL ended; a later retry gets a fresh one.
    for (let attempt = 0; attempt < 5 && settled === undefined; attempt++)
      settled = await files.retryUnsettledChanges().catch(() => undefined);
    assert.deepEqual(settled, { finished: 0, undone: 1 });
    assert.equal(await readFile(path.join(home, 'x.txt'), 'utf8'), 'still here');
    assert.deepEqual(await readdir(intents), []);
    const { rows } = await pool.query<{ type: string; data: { operation: string; path: string } }>(
      'SELECT type, data FROM events ORDER BY global_position',
    );
    assert.deepEqual(
      rows.map((r) => `${r.type} ${r.data.operation} ${r.data.path}`),
      ['FileChangeUndone delete /x.txt'],
    );
    assert.deepEqual(await files.retryUnsettledChanges(), { finished: 0, undone: 0 }, 'settled once');
  });
});
