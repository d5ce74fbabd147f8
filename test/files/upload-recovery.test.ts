/**
 * A crash between recording an upload and moving it into place is finished at the next
 * start; a staged upload that was never recorded is discarded and recorded as aborted.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { v7 as uuidv7 } from 'uuid';
import { migrate } from '../../src/adapters/database/migrate.js';
import { AppendNotifier } from '../../src/adapters/eventstore/postgres/append-notifier.js';
import { eventStoreMigrations } from '../../src/adapters/eventstore/postgres/migrations/index.js';
import { PostgresEventStore } from '../../src/adapters/eventstore/postgres/postgres-event-store.js';
import { DiskIntentJournal } from '../../src/adapters/storage/intent-journal.js';
import { LocalDisk } from '../../src/adapters/storage/local-disk.js';
import { FileOperations } from '../../src/application/files/file-operations.js';
import { toNewEvent } from '../../src/domain/events/catalogue.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { makeDataDir } from '../support/server-process.js';

let database: TestDatabase;
let store: PostgresEventStore;
let dataDir: string;

before(async () => {
  database = await createTestDatabase('recovery');
  const { db } = database.open({ max: 4 });
  await migrate(db, { name: 'eventstore', migrations: eventStoreMigrations });
  store = new PostgresEventStore({ db, notifier: new AppendNotifier(database.url) });
  dataDir = await makeDataDir();
});

after(async () => {
  await store.close();
  await database.drop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('upload recovery after a crash', () => {
  it('finishes recorded uploads and discards unrecorded ones', async () => {
    const disk = new LocalDisk(
      path.join(dataDir, 'files'),
      path.join(dataDir, 'uploads'),
      path.join(dataDir, 'intents'),
    );
    await disk.prepare();
    const home = await disk.home('/zoe');
    const owner = (p: string) => ({
      userId: 9,
      sessionId: uuidv7(),
      homeFolder: '/zoe',
      path: p,
      protocol: 'sftp' as const,
    });

    // Upload A: recorded, then the process died before the move.
    const a = uuidv7();
    const stagedA = await disk.stage(home, '/a.txt', a, false, owner('/a.txt'));
    await stagedA.write(0, Buffer.from('recorded upload'));
    await stagedA.sync();
    await store.appendToStream(
      `file-${a}`,
      [
        toNewEvent(
          {
            type: 'FileUploaded',
            data: { protocol: 'sftp', path: '/a.txt', size: 15, sha256: 'a'.repeat(64), overwrote: false },
          },
          { envelopeVersion: 1, correlationId: uuidv7(), actor: { userId: 9 } },
        ),
      ],
      { expectedRevision: 'no_stream' },
    );
    // Upload B: still streaming when the process died.
    const b = uuidv7();
    const stagedB = await disk.stage(home, '/b.txt', b, false, owner('/b.txt'));
    await stagedB.write(0, Buffer.from('half an upl'));

    const files = new FileOperations({
      storage: disk,
      journal: new DiskIntentJournal(path.join(dataDir, 'intents')),
      store,
      clock: { now: () => new Date() },
      ids: { uuid: uuidv7 },
    });
    assert.deepEqual(await files.recoverUploads(), { finished: 1, discarded: 1 });
    assert.equal(await readFile(path.join(home, 'a.txt'), 'utf8'), 'recorded upload');
    assert.equal(existsSync(path.join(home, 'b.txt')), false);
    assert.deepEqual(await readdir(path.join(dataDir, 'uploads')), []);
    const [aborted] = await store.readStream(`file-${b}`);
    assert.equal(aborted?.type, 'UploadAborted');
    assert.equal((aborted?.data as { path: string } | undefined)?.path, '/b.txt');
    assert.deepEqual(
      await files.recoverUploads(),
      { finished: 0, discarded: 0 },
      'nothing left the second time',
    );
  });

  it('keeps a moved upload’s note until its folder is synced; a note left without its staged file is dropped at start', async () => {
    const disk = new LocalDisk(
      path.join(dataDir, 'files'),
      path.join(dataDir, 'uploads'),
      path.join(dataDir, 'intents'),
    );
    await disk.prepare();
    const home = await disk.home('/yan');
    const id = uuidv7();
    const staged = await disk.stage(home, '/c.txt', id, false, {
      userId: 10,
      sessionId: uuidv7(),
      homeFolder: '/yan',
      path: '/c.txt',
      protocol: 'sftp',
    });
    await staged.write(0, Buffer.from('moved'));
    await staged.sync();
    await staged.commit({ overwrite: false });
    assert.equal(await readFile(path.join(home, 'c.txt'), 'utf8'), 'moved');
    await disk.flush();
    assert.deepEqual(await readdir(path.join(dataDir, 'uploads')), [], 'the note went with the sync');

    // As if the process died after the move but before the folder's sync dropped the note.
    await writeFile(path.join(dataDir, 'uploads', `${id}.json`), '{}');
    assert.deepEqual(await disk.stagedUploads(), []);
    assert.deepEqual(await readdir(path.join(dataDir, 'uploads')), []);
  });
});
