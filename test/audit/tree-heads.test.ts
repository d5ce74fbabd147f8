/**
 * Periodic tree heads: signed when something was recorded since the last head, not when the
 * last head is the last event, and by one instance only when several try at once (the stream's
 * revision decides); a server with a short interval signs one by itself, as the system, which
 * its published key verifies and the audit view lists.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { v7 as uuidv7 } from 'uuid';
import { loadOrCreateLogKey, signatureCheck } from '../../src/adapters/log-key/log-key.js';
import type { ReadModel } from '../../src/adapters/readmodel/schema.js';
import { TreeHeads } from '../../src/application/tree-heads.js';
import { treeHeadsStream } from '../../src/domain/events/log-events.js';
import { type TreeHead, treeHeadMessage } from '../../src/domain/merkle/tree-head.js';
import { currentTree } from '../../src/projections/merkle-proofs.js';
import { adminSession, call, startTestSluice, type TestSluice } from '../support/sluice.js';
import { createWorld, uploaded, type World } from './support.js';

let t: TestSluice;
let w: World;

async function treeHeads(): Promise<TreeHeads> {
  const { signer } = await loadOrCreateLogKey(path.join(t.dataDir, 'log-key', 'ed25519.pem'));
  const { db } = t.database.open<ReadModel>({ max: 2 });
  return new TreeHeads({
    store: w.store,
    clock: t.clock,
    ids: { uuid: uuidv7 },
    signer,
    tree: () => currentTree(db),
    waitForTree: (position, ms) => t.sluice.runner.waitForPosition(position, ms, 'merkle'),
  });
}

const headCount = async () => (await w.store.readStream(treeHeadsStream)).length;

describe('periodic tree heads', () => {
  before(async () => {
    t = await startTestSluice();
    w = await createWorld(t);
  });
  after(async () => {
    await w.close();
    await t.stop();
  });

  it('signs only when something was recorded since the last head', async () => {
    const heads = await treeHeads();
    const first = await heads.signIfChanged();
    assert.ok(first, 'the log has events and no head yet');
    assert.equal(await heads.signIfChanged(), undefined, 'the last event is the head');
    assert.equal(await headCount(), 1);

    const actor = { userId: 1, applicationId: 3, clientIp: '127.0.0.1' };
    const position = await w.append(uploaded('/in/a.csv', 'a'), actor);
    const second = await heads.signIfChanged();
    assert.ok(second);
    assert.ok(second.treeSize > first.treeSize && second.lastPosition >= position);
    const [recorded] = await w.store.readStream(treeHeadsStream, { backwards: true, maxCount: 1 });
    assert.deepEqual(recorded?.metadata.actor, {}, 'signed by the system');
  });

  it('is signed by one instance when several try at once', async () => {
    await w.append(uploaded('/in/b.csv', 'b'), { userId: 1, applicationId: 3, clientIp: '127.0.0.1' });
    const before = await headCount();
    const instances = await Promise.all([treeHeads(), treeHeads(), treeHeads()]);
    const signed = await Promise.all(instances.map((h) => h.signIfChanged()));
    assert.equal(signed.filter(Boolean).length, 1);
    assert.equal(await headCount(), before + 1);
  });

  it('is signed by a server by itself every MFT_TREE_HEAD_INTERVAL_SECONDS', async () => {
    const s = await startTestSluice({ env: { MFT_TREE_HEAD_INTERVAL_SECONDS: '1' } });
    try {
      const token = await adminSession(s.base);
      const key = await call<{ publicKey: string }>(s.base, 'GET', '/api/v1/audit/log-key', { token });
      type Item = { detail: TreeHead & { keyId: string; signature: string } };
      let items: Item[] = [];
      // A hang guard, not a speed check.
      for (let waited = 0; items.length === 0 && waited < 60_000; waited += 250) {
        await sleep(250);
        const res = await call<{ items: Item[] }>(
          s.base,
          'GET',
          '/api/v1/audit/events?operation=log.tree-head',
          {
            token,
          },
        );
        items = res.body.items;
      }
      const head = items[0]?.detail;
      assert.ok(head, 'a head was signed');
      const check = signatureCheck([key.body.publicKey]);
      assert.equal(check(head.keyId, treeHeadMessage(head), head.signature), 'valid');
    } finally {
      await s.stop();
    }
  });
});
