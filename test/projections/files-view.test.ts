/**
 * The files view writes the uploads of a batch in one statement (the last upload of a name
 * wins) and the deletes and renames between them in order. Applied as one batch or one event
 * at a time, the same events must leave the same rows.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { RecordedDomainEvent } from '../../src/domain/events/catalogue.js';
import { filesProjection } from '../../src/projections/files-view.js';
import { createHarness, type Harness } from './harness.js';

let harness: Harness;
before(async () => {
  harness = await createHarness();
});
after(async () => {
  await harness?.dispose();
});

const sha = (n: number) => n.toString(16).padStart(64, '0');

/** The story of one user's folder, as FileUploaded/FileDeleted/FileRenamed events. */
function story(userId: number): RecordedDomainEvent[] {
  const steps: Array<[string, Record<string, unknown>]> = [
    ['FileUploaded', { path: '/a', size: 1, sha256: sha(1), overwrote: false }],
    ['FileUploaded', { path: '/b', size: 2, sha256: sha(2), overwrote: false }],
    ['FileUploaded', { path: '/a', size: 3, sha256: sha(3), overwrote: true }],
    ['FileDeleted', { path: '/b', size: 2 }],
    ['FileUploaded', { path: '/b', size: 5, sha256: sha(5), overwrote: false }],
    ['FileUploaded', { path: '/d/x', size: 6, sha256: sha(6), overwrote: false }],
    ['FileRenamed', { from: '/a', to: '/c', overwrote: false }],
    ['FileUploaded', { path: '/a', size: 7, sha256: sha(7), overwrote: false }],
    ['FileRenamed', { from: '/d', to: '/e', overwrote: false }],
    ['FileUploaded', { path: '/e/x', size: 8, sha256: sha(8), overwrote: true }],
    ['FileUploaded', { path: '/c', size: 9, sha256: sha(9), overwrote: true }],
    ['FileDeleted', { path: '/b', size: 5 }],
    ['FileUploaded', { path: '/f', size: 10, sha256: sha(10), overwrote: false }],
    ['FileDeleted', { path: '/f', size: 10 }],
  ];
  return steps.map(([type, data], i) => ({
    type,
    data: { protocol: 'sftp', ...data },
    metadata: {
      envelopeVersion: 1,
      correlationId: randomUUID(),
      actor: { userId, sessionId: randomUUID(), applicationId: 3 },
    },
    eventId: randomUUID(),
    streamId: `file-${userId}-${i}`,
    streamRevision: 0,
    globalPosition: userId * 100 + i + 1,
    recordedAt: new Date(Date.UTC(2026, 11, 2, 12, 0, i)),
  })) as unknown as RecordedDomainEvent[];
}

async function rows(userId: number) {
  return (
    await harness.db
      .selectFrom('files')
      .select(['path', 'size', 'sha256', 'updated_position'])
      .where('user_id', '=', userId)
      .orderBy('path')
      .execute()
  ).map((r) => ({ path: r.path, size: Number(r.size), sha256: r.sha256, at: Number(r.updated_position) }));
}

describe('files view', () => {
  it('one batch leaves the same rows as one event at a time', async () => {
    await harness.db.transaction().execute((trx) => filesProjection.apply(trx, story(1)));
    for (const event of story(2)) {
      await harness.db.transaction().execute((trx) => filesProjection.apply(trx, [event]));
    }
    const batched = await rows(1);
    assert.deepEqual(batched, [
      { path: '/a', size: 7, sha256: sha(7), at: 108 },
      { path: '/c', size: 9, sha256: sha(9), at: 111 },
      { path: '/e/x', size: 8, sha256: sha(8), at: 110 },
    ]);
    assert.deepEqual(
      (await rows(2)).map((r) => ({ ...r, at: r.at - 100 })),
      batched,
    );
  });
});
