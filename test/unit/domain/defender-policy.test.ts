/** The defender's pure rules: the hold of each further failure, and the ban's length. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { banLength, type DefenderPolicy, failureDelay } from '../../../src/domain/defender/policy.js';

const policy: DefenderPolicy = {
  maxFailuresPerAddress: 10,
  maxFailuresPerUser: 30,
  windowMs: 600_000,
  banMs: 900_000,
  maxBanMs: 86_400_000,
  allowList: [],
  delayFreeFailures: 2,
  maxUnknownUserEventsPerMinute: 600,
  delayMs: 250,
  maxDelayMs: 5000,
};

describe('defender policy', () => {
  it('holds each failure past the free ones twice as long as the one before, capped', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 1000].map((n) => failureDelay(policy, n)),
      [0, 0, 250, 500, 1000, 2000, 4000, 5000, 5000, 5000],
    );
  });

  it('holds nothing when the delay is 0, and from the first failure when none is free', () => {
    assert.equal(failureDelay({ ...policy, delayMs: 0 }, 50), 0);
    assert.equal(failureDelay({ ...policy, delayFreeFailures: 0 }, 1), 250);
  });

  it('doubles each ban of a key, capped', () => {
    assert.deepEqual(
      [1, 2, 3, 10].map((n) => banLength(policy, n)),
      [900_000, 1_800_000, 3_600_000, 86_400_000],
    );
  });
});
