import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import {
  compileFilter,
  matchesFilter,
  type NotificationFilter,
  NotificationFilterSchema,
} from '../../../src/domain/reactions/notification-filter.js';

const upload = { operation: 'upload', outcome: 'success', userName: 'alice', path: '/inbox/a.csv' } as const;

describe('notification filter', () => {
  it('an empty filter matches everything, sign-ins without a path included', () => {
    assert.equal(matchesFilter({}, upload), true);
    assert.equal(matchesFilter({}, { operation: 'sign-in', outcome: 'failure', userName: 'bob' }), true);
  });

  it('matches any entry within a field and every field present', () => {
    const filter: NotificationFilter = { operations: ['download', 'upload'], outcomes: ['success'] };
    assert.equal(matchesFilter(filter, upload), true);
    assert.equal(matchesFilter(filter, { ...upload, outcome: 'failure' }), false);
    assert.equal(matchesFilter(filter, { ...upload, operation: 'delete' }), false);
  });

  it('compares operations exactly', () => {
    assert.equal(matchesFilter({ operations: ['Upload'] }, upload), false);
  });

  it('compares user names case-insensitively, as sign-in does', () => {
    assert.equal(matchesFilter({ users: ['ALICE'] }, upload), true);
    assert.equal(matchesFilter({ users: ['alice'] }, { ...upload, userName: 'Alice' }), true);
    assert.equal(matchesFilter({ users: ['alicia'] }, upload), false);
  });

  it('matches path globs against the whole virtual path', () => {
    const one = compileFilter({ paths: ['/inbox/*.csv'] });
    assert.equal(one(upload), true);
    assert.equal(one({ ...upload, path: '/inbox/sub/a.csv' }), false);
    assert.equal(one({ ...upload, path: '/outbox/a.csv' }), false);
    assert.equal(one({ ...upload, path: '/inbox/a.CSV' }), false);
    const deep = compileFilter({ paths: ['/inbox/**'] });
    assert.equal(deep({ ...upload, path: '/inbox/sub/deeper/x' }), true);
    assert.equal(deep({ ...upload, path: '/inboxes/x' }), false);
    const anyDepth = compileFilter({ paths: ['**/*.csv'] });
    assert.equal(anyDepth({ ...upload, path: '/a.csv' }), true);
    assert.equal(anyDepth({ ...upload, path: '/x/y/z/a.csv' }), true);
    assert.equal(anyDepth({ ...upload, path: '/x/a.txt' }), false);
  });

  it('matches dot files like any other', () => {
    assert.equal(matchesFilter({ paths: ['/inbox/*'] }, { ...upload, path: '/inbox/.hidden' }), true);
  });

  it('never matches an event without a path against a path filter', () => {
    const signIn = { operation: 'sign-in', outcome: 'success' as const, userName: 'alice' };
    assert.equal(matchesFilter({ paths: ['**'] }, signIn), false);
    assert.equal(matchesFilter({ paths: ['/**'] }, signIn), false);
  });

  it('an empty list matches nothing', () => {
    assert.equal(matchesFilter({ operations: [] }, upload), false);
    assert.equal(matchesFilter({ users: [] }, upload), false);
    assert.equal(matchesFilter({ paths: [] }, upload), false);
    assert.equal(matchesFilter({ outcomes: [] }, upload), false);
  });
});

describe('notification filter schema', () => {
  const valid = (value: unknown) => Value.Check(NotificationFilterSchema, value);

  it('accepts a full filter and an empty one', () => {
    assert.equal(
      valid({ operations: ['upload'], outcomes: ['success', 'failure'], users: ['a'], paths: ['/in/**'] }),
      true,
    );
    assert.equal(valid({}), true);
  });

  it('refuses empty lists, so no stored rule is ambiguous', () => {
    for (const field of ['operations', 'outcomes', 'users', 'paths']) {
      assert.equal(valid({ [field]: [] }), false, field);
    }
  });

  it('bounds lists at 50 entries and entries at 256 characters', () => {
    const fifty = Array.from({ length: 50 }, (_, i) => `/p${i}/**`);
    assert.equal(valid({ paths: fifty }), true);
    assert.equal(valid({ paths: [...fifty, '/one-more'] }), false);
    assert.equal(valid({ users: ['u'.repeat(256)] }), true);
    assert.equal(valid({ users: ['u'.repeat(257)] }), false);
    assert.equal(valid({ operations: [''] }), false);
  });

  it('refuses unknown outcomes, repeated outcomes, unknown fields and control characters', () => {
    assert.equal(valid({ outcomes: ['maybe'] }), false);
    assert.equal(valid({ outcomes: ['success', 'success'] }), false);
    assert.equal(valid({ operation: ['upload'] }), false);
    assert.equal(valid({ paths: ['/in/\n*'] }), false);
  });
});
