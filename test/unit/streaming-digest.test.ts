import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { StreamingDigest } from '../../src/application/files/streaming-digest.js';

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('the streaming upload digest', () => {
  const file = randomBytes(10 * 1000);
  const pieces = Array.from({ length: 10 }, (_, i) => ({
    offset: i * 1000,
    data: file.subarray(i * 1000, (i + 1) * 1000),
  }));

  it('hashes writes in order without reading anything back', () => {
    const digest = new StreamingDigest();
    for (const p of pieces) digest.update(p.offset, p.data);
    assert.equal(digest.digestOf(file.length), sha(file));
  });

  it('holds pieces that arrive a little ahead until the gap is filled', () => {
    const digest = new StreamingDigest();
    for (const i of [1, 0, 3, 2, 5, 4, 9, 8, 7, 6]) digest.update(pieces[i]!.offset, pieces[i]!.data);
    assert.equal(digest.digestOf(file.length), sha(file));
  });

  it('gives up (null: read the file back) on a rewrite, a hole, too much held, or a resumed file', () => {
    const rewrite = new StreamingDigest();
    rewrite.update(0, pieces[0]!.data);
    rewrite.update(0, pieces[0]!.data);
    assert.equal(rewrite.digestOf(1000), null);
    const hole = new StreamingDigest();
    hole.update(5000, pieces[5]!.data);
    assert.equal(hole.digestOf(6000), null);
    const budget = new StreamingDigest(1500);
    budget.update(1000, pieces[1]!.data);
    budget.update(2000, pieces[2]!.data);
    assert.equal(budget.intact, false);
    const resumed = new StreamingDigest();
    resumed.giveUp();
    resumed.update(0, file);
    assert.equal(resumed.digestOf(file.length), null);
  });
});
