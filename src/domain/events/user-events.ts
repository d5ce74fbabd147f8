/**
 * Users. Secrets never enter an event: a password change records only the version of the
 * credential kept in the credential store (salted argon2id hash, outside the log).
 */
import { Type } from '@sinclair/typebox';
import { ApplicationId, eventSchema, NullableCount, Text, UserId } from './schema-helpers.js';

export const Right = Type.Union([
  Type.Literal('admin'),
  Type.Literal('auditor'),
  Type.Literal('impersonate'),
]);

export const FilePermission = Type.Union([
  Type.Literal('list'),
  Type.Literal('download'),
  Type.Literal('upload'),
  Type.Literal('overwrite'),
  Type.Literal('delete'),
  Type.Literal('rename'),
  Type.Literal('mkdir'),
  Type.Literal('rmdir'),
]);

/** Permissions on a virtual path (and below it) inside the user's home folder. */
export const PathPermissions = Type.Object(
  {
    path: Text(1024, 1),
    permissions: Type.Array(FilePermission, { uniqueItems: true, maxItems: 8 }),
  },
  { additionalProperties: false },
);

export const UserName = Text(64, 1);
export const EmailAddress = Text(254, 3);

export const CreatedBy = Type.Union([
  Type.Object({ kind: Type.Literal('admin'), userId: UserId }, { additionalProperties: false }),
  Type.Object(
    { kind: Type.Literal('ticket'), applicationId: ApplicationId },
    { additionalProperties: false },
  ),
  Type.Object({ kind: Type.Literal('bootstrap') }, { additionalProperties: false }),
]);

/** A user's own quota in bytes (0: none); null: the server's (MFT_USER_QUOTA_BYTES). */
export const QuotaBytes = NullableCount(0, {
  description:
    "Bytes this user may store in all, overriding MFT_USER_QUOTA_BYTES (0: no quota); null: the server's",
});

/** A user's own largest file in bytes, never above the server's; null: the server's (MFT_MAX_FILE_BYTES). */
export const MaxFileBytes = NullableCount(1, {
  description: "Largest file this user may store (never above MFT_MAX_FILE_BYTES); null: the server's",
});

export const UserIdAllocated = eventSchema('UserIdAllocated', { userId: UserId });

export const UniqueValueReserved = eventSchema('UniqueValueReserved', {
  scope: Type.Union([Type.Literal('userName'), Type.Literal('emailAddress')]),
  value: Text(254, 1),
  userId: UserId,
});

export const UniqueValueReleased = eventSchema('UniqueValueReleased', {
  scope: Type.Union([Type.Literal('userName'), Type.Literal('emailAddress')]),
  value: Text(254, 1),
  userId: UserId,
});

export const UserCreated = eventSchema('UserCreated', {
  userId: UserId,
  userName: UserName,
  emailAddress: EmailAddress,
  firstName: Text(100),
  lastName: Text(100),
  enabled: Type.Boolean(),
  rights: Type.Array(Right, { uniqueItems: true, maxItems: 3 }),
  homeFolder: Text(1024, 1),
  permissions: Type.Array(PathPermissions, { maxItems: 200 }),
  createdBy: CreatedBy,
  /** Version of the password in the credential store; null when the user has none (ticket users). */
  credentialVersion: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
  /** Absent (users made before per-user limits, or none set): the server's. */
  quotaBytes: Type.Optional(QuotaBytes),
  maxFileBytes: Type.Optional(MaxFileBytes),
});

export const UserUpdated = eventSchema('UserUpdated', {
  userId: UserId,
  changes: Type.Object(
    {
      emailAddress: Type.Optional(EmailAddress),
      firstName: Type.Optional(Text(100)),
      lastName: Type.Optional(Text(100)),
      rights: Type.Optional(Type.Array(Right, { uniqueItems: true, maxItems: 3 })),
      homeFolder: Type.Optional(Text(1024, 1)),
      permissions: Type.Optional(Type.Array(PathPermissions, { maxItems: 200 })),
      quotaBytes: Type.Optional(QuotaBytes),
      maxFileBytes: Type.Optional(MaxFileBytes),
    },
    { additionalProperties: false, minProperties: 1 },
  ),
  updatedBy: UserId,
});

export const UserPasswordChanged = eventSchema('UserPasswordChanged', {
  userId: UserId,
  credentialVersion: Type.Integer({ minimum: 1 }),
  changedBy: UserId,
});

export const UserDisabled = eventSchema('UserDisabled', { userId: UserId, changedBy: UserId });
export const UserEnabled = eventSchema('UserEnabled', { userId: UserId, changedBy: UserId });
export const UserDeleted = eventSchema('UserDeleted', { userId: UserId, deletedBy: UserId });

export const UserKeyAdded = eventSchema('UserKeyAdded', {
  userId: UserId,
  /** OpenSSH SHA256 fingerprint, e.g. SHA256:base64. */
  fingerprint: Text(100, 10),
  algorithm: Text(64, 3),
  /** The public key in OpenSSH one-line form (public, not a secret). */
  publicKey: Text(16384, 16),
  comment: Text(255),
  changedBy: UserId,
});

export const UserKeyRemoved = eventSchema('UserKeyRemoved', {
  userId: UserId,
  fingerprint: Text(100, 10),
  changedBy: UserId,
});
