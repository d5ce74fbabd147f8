import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateEvent } from '../../src/domain/events/catalogue.js';
import { changeDone, changeUndone, type FileChange, NO_FACTS } from '../../src/domain/files/file-changes.js';

const protocol = 'sftp' as const;

describe('the events of file changes', () => {
  const cases: Array<[FileChange, { size: number | null; overwrote: boolean }, unknown]> = [
    [
      { kind: 'delete', protocol, path: '/a' },
      { size: 5, overwrote: false },
      { type: 'FileDeleted', data: { protocol, path: '/a', size: 5 } },
    ],
    [
      { kind: 'rename', protocol, from: '/a', to: '/b', overwrite: true },
      { size: null, overwrote: true },
      { type: 'FileRenamed', data: { protocol, from: '/a', to: '/b', overwrote: true } },
    ],
    [
      { kind: 'mkdir', protocol, path: '/d' },
      NO_FACTS,
      { type: 'DirectoryCreated', data: { protocol, path: '/d' } },
    ],
    [
      { kind: 'rmdir', protocol, path: '/d' },
      NO_FACTS,
      { type: 'DirectoryRemoved', data: { protocol, path: '/d' } },
    ],
    [
      {
        kind: 'setstat',
        protocol,
        path: '/a',
        atime: 1_500_000_000,
        mtime: 1_600_000_000,
        previousAtime: 1,
        previousMtime: 2,
      },
      NO_FACTS,
      {
        type: 'FileAttributesChanged',
        data: {
          protocol,
          path: '/a',
          modifiedAt: '2020-09-13T12:26:40.000Z',
          accessedAt: '2017-07-14T02:40:00.000Z',
        },
      },
    ],
  ];
  for (const [change, facts, expected] of cases) {
    it(`records a ${change.kind} done, as the catalogue accepts`, () => {
      const event = changeDone(change, facts);
      assert.deepEqual(event, expected);
      assert.deepEqual(validateEvent(event), event);
    });
  }

  it('records a change undone with its operation, paths and reason (cut to 200 characters)', () => {
    const renamed = changeUndone(
      { kind: 'rename', protocol, from: '/a', to: '/b', overwrite: false },
      'stopped',
    );
    assert.deepEqual(renamed, {
      type: 'FileChangeUndone',
      data: { protocol, operation: 'rename', path: '/a', to: '/b', reason: 'stopped' },
    });
    const deleted = changeUndone({ kind: 'delete', protocol, path: '/a' }, 'x'.repeat(300));
    assert.equal(deleted.data.reason.length, 200);
    assert.equal('to' in deleted.data, false);
    for (const event of [renamed, deleted]) assert.deepEqual(validateEvent(event), event);
  });
});
