/**
 * Proof that the conformance suite's skip detection bites: against PostgresEventStore with
 * `unsafeNaiveReads` (a reader that pages by `global_position > checkpoint` alone), an append
 * that commits after a later position has committed is skipped, and the suite's late-commit
 * scenario fails. Sequenced with promises only: no timing races.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AppendResult } from '../../src/domain/event-store.js';
import {
  deferred,
  lateCommitScenario,
  newEvent,
  readEverything,
  Subscriber,
} from './event-store.conformance.js';
import { postgresEventStoreFactory } from './postgres-factory.js';

const naiveFactory = postgresEventStoreFactory({ unsafeNaiveReads: true });

describe('conformance suite against a naive position-only reader', () => {
  it('a subscriber that pages by position alone skips an append that commits late', {
    timeout: 60_000,
  }, async () => {
    const release = deferred();
    const aIsOpen = deferred();
    const harness = await naiveFactory.create({
      commitDelay: async (streamId) => {
        if (streamId !== 'late-a') return;
        aIsOpen.resolve();
        await release.promise;
      },
    });
    const store = harness.store;
    const subscriber = new Subscriber(store);
    let aAppend: Promise<AppendResult> | undefined;
    try {
      const early = newEvent('Early', {});
      await store.appendToStream('early', [early]);
      await subscriber.until((e) => e.length === 1);

      const a = newEvent('LateA', {});
      const b = newEvent('LateB', {});
      aAppend = store.appendToStream('late-a', [a]);
      await aIsOpen.promise; // A has its position, uncommitted
      const bResult = await store.appendToStream('late-b', [b]);

      // The naive reader returns B although A, at an earlier position, may still commit...
      assert.deepEqual(
        (await store.readAll({ after: 0 })).map((e) => e.eventId),
        [early.eventId, b.eventId],
      );
      // ...and its subscriber delivers B and moves its checkpoint past A.
      await subscriber.until((e) => e.length === 2);
      assert.equal(subscriber.events[1]?.eventId, b.eventId);

      release.resolve();
      const aResult = await aAppend;
      assert.ok(
        aResult.firstPosition < bResult.firstPosition,
        'A holds the earlier position and committed last',
      );

      const sentinel = newEvent('Sentinel', {});
      await store.appendToStream('sentinel', [sentinel]);
      await subscriber.until((e) => e.some((x) => x.eventId === sentinel.eventId));

      // A exists in the log but the subscriber never delivered it: skipped.
      assert.deepEqual(
        subscriber.events.map((e) => e.eventId),
        [early.eventId, b.eventId, sentinel.eventId],
      );
      assert.deepEqual(
        (await readEverything(store)).map((e) => e.eventId),
        [early.eventId, a.eventId, b.eventId, sentinel.eventId],
      );
    } finally {
      release.resolve();
      await aAppend?.catch(() => undefined);
      await subscriber.stop();
      await harness.dispose();
    }
  });

  it("the suite's late-commit scenario fails against the naive reader", { timeout: 60_000 }, async () => {
    await assert.rejects(lateCommitScenario(naiveFactory), (error: unknown) => {
      assert.ok(
        error instanceof assert.AssertionError,
        `expected an assertion failure, got ${String(error)}`,
      );
      assert.match(error.message, /skipped|before that position committed/);
      return true;
    });
  });
});
