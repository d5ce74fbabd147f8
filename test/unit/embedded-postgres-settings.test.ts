/**
 * The embedded PostgreSQL runs with settings sized to the machine (serverSettings), and the
 * server the tests run on really has them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { serverSettings } from '../../src/adapters/database/embedded-postgres.js';
import { createTestDatabase } from '../support/database.js';

const GiB = 2 ** 30;

describe('embedded PostgreSQL settings', () => {
  it('shared buffers are 1/16 of memory, from 128 MB to 1 GB; checkpoints up to 4 GB of WAL apart', () => {
    assert.deepEqual(serverSettings(1 * GiB), { shared_buffers: '128MB', max_wal_size: '4GB' });
    assert.deepEqual(serverSettings(8 * GiB), { shared_buffers: '512MB', max_wal_size: '4GB' });
    assert.deepEqual(serverSettings(64 * GiB), { shared_buffers: '1024MB', max_wal_size: '4GB' });
  });

  it('are the ones the running server reports', async () => {
    const database = await createTestDatabase('settings');
    try {
      const { db } = database.open<unknown>({ max: 1 });
      const shown = async (name: string) =>
        (await sql<{ setting: string }>`SELECT current_setting(${name}) AS setting`.execute(db)).rows[0]
          ?.setting;
      const expected = serverSettings();
      // SHOW answers in the largest exact unit: 1024MB is 1GB.
      const mib = Number.parseInt(expected.shared_buffers, 10);
      assert.equal(await shown('shared_buffers'), mib % 1024 === 0 ? `${mib / 1024}GB` : `${mib}MB`);
      assert.equal(await shown('max_wal_size'), expected.max_wal_size);
    } finally {
      await database.drop();
    }
  });
});
