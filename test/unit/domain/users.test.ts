import { describe, it } from 'node:test';
import { reservationDecider } from '../../../src/domain/users/reservation.js';
import { type UserEvent, userDecider } from '../../../src/domain/users/user.js';
import { userIdDecider } from '../../../src/domain/users/user-ids.js';
import { specification } from '../../support/decider-spec.js';

const users = specification(userDecider);
const key = {
  fingerprint: 'SHA256:abcdefghijklmnop',
  algorithm: 'ssh-ed25519',
  publicKey: 'ssh-ed25519 AAAAkey',
  comment: 'laptop',
};
const create = {
  type: 'CreateUser' as const,
  userId: 7,
  userName: 'Alice',
  emailAddress: 'alice@example.com',
  firstName: 'Alice',
  lastName: 'Liddell',
  rights: ['auditor' as const],
  homeFolder: '/alice',
  permissions: [{ path: '/', permissions: ['list' as const, 'download' as const] }],
  credentialVersion: 1,
  keys: [key],
  createdBy: { kind: 'admin' as const, userId: 1 },
};
const created: UserEvent = {
  type: 'UserCreated',
  data: {
    userId: 7,
    userName: 'Alice',
    emailAddress: 'alice@example.com',
    firstName: 'Alice',
    lastName: 'Liddell',
    enabled: true,
    rights: ['auditor'],
    homeFolder: '/alice',
    permissions: [{ path: '/', permissions: ['list', 'download'] }],
    createdBy: { kind: 'admin', userId: 1 },
    credentialVersion: 1,
  },
};
const keyAdded: UserEvent = { type: 'UserKeyAdded', data: { userId: 7, ...key, changedBy: 1 } };

describe('user decider', () => {
  it('creates a user with its keys, recording who created it', () => {
    users.given([]).when(create).thenEmits([created, keyAdded]);
  });
  it('refuses to create a user twice', () => {
    users.given([created]).when(create).thenThrows('user-exists');
  });
  it('refuses user names that are not safe as a folder name, and unsafe home folders', () => {
    for (const userName of ['..', '.', 'bob/x@example.com', 'a\\b', 'nul\0', 'del\u007f', ' padded', ''])
      users
        .given([])
        .when({ ...create, userName })
        .thenThrows('invalid-user-name');
    for (const homeFolder of ['/..', '/a/../b', '//a', '/a/', 'a', '/a\\b', '/a\nb'])
      users
        .given([])
        .when({ ...create, homeFolder })
        .thenThrows('invalid-home-folder');
    users
      .given([created])
      .when({ type: 'UpdateUser', userId: 7, changes: { homeFolder: '/../..' }, by: 1 })
      .thenThrows('invalid-home-folder');
  });
  it('records only the fields that change', () => {
    users
      .given([created])
      .when({
        type: 'UpdateUser',
        userId: 7,
        changes: { firstName: 'Alice', lastName: 'Pleasance', rights: ['auditor'] },
        by: 1,
      })
      .thenEmits([
        { type: 'UserUpdated', data: { userId: 7, changes: { lastName: 'Pleasance' }, updatedBy: 1 } },
      ]);
    users
      .given([created])
      .when({ type: 'UpdateUser', userId: 7, changes: { rights: ['auditor'] }, by: 1 })
      .thenNothing();
  });
  it("records a user's own storage limits at creation, changes them, and clears them back to the server's", () => {
    users
      .given([])
      .when({ ...create, keys: [], quotaBytes: 5000, maxFileBytes: null })
      .thenEmits([{ type: 'UserCreated', data: { ...created.data, quotaBytes: 5000 } } as UserEvent]);
    const limited: UserEvent = {
      type: 'UserCreated',
      data: { ...created.data, quotaBytes: 5000 },
    } as UserEvent;
    users
      .given([limited])
      .when({ type: 'UpdateUser', userId: 7, changes: { quotaBytes: 5000, maxFileBytes: 100 }, by: 1 })
      .thenEmits([
        { type: 'UserUpdated', data: { userId: 7, changes: { maxFileBytes: 100 }, updatedBy: 1 } },
      ]);
    users
      .given([limited])
      .when({ type: 'UpdateUser', userId: 7, changes: { quotaBytes: null }, by: 1 })
      .thenEmits([{ type: 'UserUpdated', data: { userId: 7, changes: { quotaBytes: null }, updatedBy: 1 } }]);
    users
      .given([created])
      .when({ type: 'UpdateUser', userId: 7, changes: { quotaBytes: null, maxFileBytes: null }, by: 1 })
      .thenNothing();
  });
  it('changes the password by credential version only, never backwards', () => {
    users
      .given([created])
      .when({ type: 'ChangePassword', userId: 7, credentialVersion: 2, by: 7 })
      .thenEmits([{ type: 'UserPasswordChanged', data: { userId: 7, credentialVersion: 2, changedBy: 7 } }]);
    users
      .given([created])
      .when({ type: 'ChangePassword', userId: 7, credentialVersion: 1, by: 7 })
      .thenThrows('stale-credential');
  });
  it('disables and enables', () => {
    const disabled: UserEvent = { type: 'UserDisabled', data: { userId: 7, changedBy: 1 } };
    users
      .given([created])
      .when({ type: 'SetUserEnabled', userId: 7, enabled: false, by: 1 })
      .thenEmits([disabled]);
    users
      .given([created, disabled])
      .when({ type: 'SetUserEnabled', userId: 7, enabled: false, by: 1 })
      .thenNothing();
    users
      .given([created, disabled])
      .when({ type: 'SetUserEnabled', userId: 7, enabled: true, by: 1 })
      .thenEmits([{ type: 'UserEnabled', data: { userId: 7, changedBy: 1 } }]);
  });
  it('replaces the key set with adds and removes', () => {
    const other = { ...key, fingerprint: 'SHA256:qrstuvwxyz012345', comment: 'desktop' };
    users
      .given([created, keyAdded])
      .when({ type: 'ReplaceKeys', userId: 7, keys: [other], by: 1 })
      .thenEmits([
        { type: 'UserKeyRemoved', data: { userId: 7, fingerprint: key.fingerprint, changedBy: 1 } },
        { type: 'UserKeyAdded', data: { userId: 7, ...other, changedBy: 1 } },
      ]);
    users
      .given([created, keyAdded])
      .when({ type: 'ReplaceKeys', userId: 7, keys: [key, key], by: 1 })
      .thenThrows('duplicate-key');
  });
  it('deletes once; a deleted user cannot change', () => {
    const deleted: UserEvent = { type: 'UserDeleted', data: { userId: 7, deletedBy: 1 } };
    users.given([created]).when({ type: 'DeleteUser', userId: 7, by: 1 }).thenEmits([deleted]);
    users.given([created, deleted]).when({ type: 'DeleteUser', userId: 7, by: 1 }).thenThrows('user-deleted');
    users
      .given([created, deleted])
      .when({ type: 'SetUserEnabled', userId: 7, enabled: false, by: 1 })
      .thenThrows('user-deleted');
    users.given([]).when({ type: 'DeleteUser', userId: 7, by: 1 }).thenThrows('user-unknown');
  });
});

describe('reservation decider (unique names and addresses)', () => {
  const spec = specification(reservationDecider);
  const reserved = {
    type: 'UniqueValueReserved' as const,
    data: { scope: 'userName' as const, value: 'alice', userId: 7 },
  };
  it('reserves a free value, case-folded', () => {
    spec
      .given([])
      .when({ type: 'Reserve', scope: 'userName', value: 'ALICE', userId: 7, holderIsStale: false })
      .thenEmits([reserved]);
  });
  it('refuses a taken value, naming the holder', () => {
    spec
      .given([reserved])
      .when({ type: 'Reserve', scope: 'userName', value: 'Alice', userId: 8, holderIsStale: false })
      .thenThrows('user-name-taken', { holder: 7 });
  });
  it('is idempotent for the holder', () => {
    spec
      .given([reserved])
      .when({ type: 'Reserve', scope: 'userName', value: 'alice', userId: 7, holderIsStale: false })
      .thenNothing();
  });
  it('takes over a stale holder’s reservation, releasing it first', () => {
    spec
      .given([reserved])
      .when({ type: 'Reserve', scope: 'userName', value: 'alice', userId: 8, holderIsStale: true })
      .thenEmits([
        { type: 'UniqueValueReleased', data: { scope: 'userName', value: 'alice', userId: 7 } },
        { type: 'UniqueValueReserved', data: { scope: 'userName', value: 'alice', userId: 8 } },
      ]);
  });
  it('releases only for the holder; a released value is free again', () => {
    const released = {
      type: 'UniqueValueReleased' as const,
      data: { scope: 'userName' as const, value: 'alice', userId: 7 },
    };
    spec
      .given([reserved])
      .when({ type: 'Release', scope: 'userName', value: 'alice', userId: 8 })
      .thenNothing();
    spec
      .given([reserved])
      .when({ type: 'Release', scope: 'userName', value: 'alice', userId: 7 })
      .thenEmits([released]);
    spec
      .given([reserved, released])
      .when({ type: 'Reserve', scope: 'userName', value: 'alice', userId: 9, holderIsStale: false })
      .thenEmits([{ type: 'UniqueValueReserved', data: { scope: 'userName', value: 'alice', userId: 9 } }]);
  });
});

describe('user id decider', () => {
  const spec = specification(userIdDecider);
  it('allocates the next id', () => {
    spec
      .given([])
      .when({ type: 'AllocateUserId' })
      .thenEmits([{ type: 'UserIdAllocated', data: { userId: 1 } }]);
    spec
      .given([
        { type: 'UserIdAllocated', data: { userId: 1 } },
        { type: 'UserIdAllocated', data: { userId: 2 } },
      ])
      .when({ type: 'AllocateUserId' })
      .thenEmits([{ type: 'UserIdAllocated', data: { userId: 3 } }]);
  });
});
