/**
 * The SFTP connection registry follows the real PostgreSQL event log: a change made between a
 * sign-in and the connection's registration still cuts it, and a subscription that fails
 * resumes from the last event it handled (none skipped) — or, failing again and again, cuts
 * every connection rather than keep rules it no longer follows.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ConnectionRegistry, type LiveConnection } from '../../src/adapters/sftp/connection-registry.js';
import type { EventStore, RecordedEvent, SubscribeOptions } from '../../src/domain/event-store.js';
import { createHarness, type Harness, metadata } from '../projections/harness.js';

let h: Harness;

before(async () => {
  h = await createHarness();
});
after(() => h.dispose());

function connection(userId: number, cuts: string[]): LiveConnection {
  return {
    connectionId: randomUUID(),
    sessionId: randomUUID(),
    userId,
    disconnect: (reason) => cuts.push(reason),
  };
}

const disabled = (userId: number) => ({
  type: 'UserDisabled',
  data: { userId, disabledBy: 1 },
  metadata: metadata(),
});

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`never happened: ${what}`);
}

describe('connection registry', () => {
  it('cuts a connection whose user changed between its sign-in and its registration', async () => {
    const registry = new ConnectionRegistry();
    await registry.follow(h.store, (error) => assert.fail(String(error)));
    try {
      const since = registry.position; // the sign-in begins
      const { lastPosition } = await h.store.appendToStream(`user-${77}`, [disabled(77)]);
      await until(() => registry.position >= lastPosition, 'the registry saw the change');
      const cuts: string[] = [];
      assert.equal(registry.add(connection(77, cuts), since), false);
      assert.deepEqual(cuts, ['user disabled']);
      assert.equal(registry.size, 0);
      // A sign-in that began after the change is not affected; another user never was.
      assert.equal(registry.add(connection(77, []), registry.position), true);
      assert.equal(registry.add(connection(78, []), since), true);
    } finally {
      await registry.stop();
    }
  });

  it('resumes after a failed subscription without skipping an event; cuts everything when it cannot', async () => {
    // The real store, whose subscription fails after its next batch while `failures` lasts,
    // and then fails at once on each resumption until `failures` runs out.
    let failures = 1;
    let resumptions = 0;
    const flaky: EventStore = Object.create(h.store, {
      subscribeToAll: {
        value: async function* (options: SubscribeOptions): AsyncGenerator<RecordedEvent[]> {
          if (resumptions++ > 0 && failures > 1) {
            failures--;
            throw new Error('database still unreachable');
          }
          for await (const batch of h.store.subscribeToAll(options)) {
            yield batch;
            if (failures > 0) {
              failures--;
              throw new Error('connection to the database lost');
            }
          }
        },
      },
    });
    const errors: unknown[] = [];
    const registry = new ConnectionRegistry();
    await registry.follow(flaky, (error) => errors.push(error), 10);
    try {
      const cuts: string[] = [];
      registry.add(connection(90, cuts), registry.position);
      await h.store.appendToStream('user-91', [disabled(91)]); // handled, then the subscription fails
      await until(() => errors.length === 1, 'the failure was reported');
      await h.store.appendToStream('user-90', [disabled(90)]); // must not be skipped
      await until(() => cuts.length === 1, 'the change after the failure cut the connection');
      assert.deepEqual(cuts, ['user disabled']);

      failures = 10;
      const others: string[] = [];
      registry.add(connection(92, others), registry.position);
      await h.store.appendToStream('user-93', [disabled(93)]);
      await until(() => others.length === 1, 'every connection cut once resuming kept failing');
      assert.deepEqual(others, ['live checks of sign-in rules unavailable']);
    } finally {
      await registry.stop();
    }
  });
});
