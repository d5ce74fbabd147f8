import { type Static, Type } from '@sinclair/typebox';
import { FreeText, Secret, Text } from '../../domain/events/schema-helpers.js';
import { MaxFileBytes, QuotaBytes } from '../../domain/events/user-events.js';
import { SEGMENT_CHAR } from '../../domain/text.js';
import { Page, PageQuery } from '../paging.js';

/** An absolute virtual path: no empty, "." or ".." segments; well-formed text (src/domain/text.ts). */
const VirtualPath = Type.String({
  maxLength: 1024,
  pattern: `^/$|^(/(?!\\.\\.?(/|$))${SEGMENT_CHAR}+)+$`,
  examples: ['/partners/acme'],
});
const Right = Type.Union([Type.Literal('admin'), Type.Literal('auditor'), Type.Literal('impersonate')]);
const Permission = Type.Union(
  ['list', 'download', 'upload', 'overwrite', 'delete', 'rename', 'mkdir', 'rmdir'].map((p) =>
    Type.Literal(p),
  ),
);
const PathPermissions = Type.Object(
  { path: VirtualPath, permissions: Type.Array(Permission, { uniqueItems: true, maxItems: 8 }) },
  { additionalProperties: false },
);
const Password = Secret(1024, 8, {
  description: 'At least 8 characters (no NUL, no lone surrogate); stored only as an argon2id hash',
});
const PublicKeyLine = FreeText(16384, 16, {
  examples: ['ssh-ed25519 AAAAC3Nza… alice@laptop'],
});

export const UserIdParams = Type.Object({ userId: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) });

export const CreateUserBody = Type.Object(
  {
    userName: Type.String({
      minLength: 1,
      maxLength: 64,
      pattern: '^(?!\\.\\.?$)[A-Za-z0-9._@+-]+$',
      description:
        'Letters, digits and . _ @ + -, not "." or "..": the default home folder is /<userName, lower case>',
      examples: ['alice'],
    }),
    emailAddress: Type.String({ format: 'email', maxLength: 254, examples: ['alice@example.com'] }),
    firstName: Type.Optional(Text(100)),
    lastName: Type.Optional(Text(100)),
    password: Type.Optional(Password),
    rights: Type.Optional(Type.Array(Right, { uniqueItems: true })),
    homeFolder: Type.Optional(VirtualPath),
    permissions: Type.Optional(Type.Array(PathPermissions, { maxItems: 200 })),
    sshPublicKeys: Type.Optional(Type.Array(PublicKeyLine, { maxItems: 50 })),
    quotaBytes: Type.Optional(QuotaBytes),
    maxFileBytes: Type.Optional(MaxFileBytes),
  },
  { additionalProperties: false },
);
export type CreateUserInput = Static<typeof CreateUserBody>;

export const UpdateUserBody = Type.Object(
  {
    emailAddress: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
    firstName: Type.Optional(Text(100)),
    lastName: Type.Optional(Text(100)),
    password: Type.Optional(Password),
    enabled: Type.Optional(Type.Boolean()),
    rights: Type.Optional(Type.Array(Right, { uniqueItems: true })),
    homeFolder: Type.Optional(VirtualPath),
    permissions: Type.Optional(Type.Array(PathPermissions, { maxItems: 200 })),
    sshPublicKeys: Type.Optional(Type.Array(PublicKeyLine, { maxItems: 50 })),
    quotaBytes: Type.Optional(QuotaBytes),
    maxFileBytes: Type.Optional(MaxFileBytes),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const UserSchema = Type.Object({
  userId: Type.Integer(),
  userName: Type.String(),
  emailAddress: Type.String(),
  firstName: Type.String(),
  lastName: Type.String(),
  enabled: Type.Boolean(),
  rights: Type.Array(Right),
  homeFolder: Type.String(),
  permissions: Type.Array(PathPermissions),
  hasPassword: Type.Boolean({ description: 'Whether a password is set (the hash is never shown)' }),
  quotaBytes: QuotaBytes,
  maxFileBytes: MaxFileBytes,
  sshPublicKeys: Type.Array(
    Type.Object({
      fingerprint: Type.String(),
      algorithm: Type.String(),
      comment: Type.String(),
      publicKey: Type.String(),
    }),
  ),
  position: Type.Optional(Type.Integer({ description: 'Global position of the change (for minPosition)' })),
});
export type UserBody = Static<typeof UserSchema>;

export const UserSummarySchema = Type.Object({
  userId: Type.Integer(),
  userName: Type.String(),
  emailAddress: Type.String(),
  firstName: Type.String(),
  lastName: Type.String(),
  enabled: Type.Boolean(),
  rights: Type.Array(Type.String()),
  quotaBytes: QuotaBytes,
  maxFileBytes: MaxFileBytes,
  createdAt: Type.String({ format: 'date-time' }),
});

export const ListUsersQuery = Type.Object(
  {
    userName: Type.Optional(Text(254, 0, { description: 'Case-insensitive prefix of the user name' })),
    emailAddress: Type.Optional(
      Text(254, 0, { description: 'Case-insensitive prefix of the e-mail address' }),
    ),
    enabled: Type.Optional(Type.Boolean()),
    right: Type.Optional(Right),
    ...PageQuery,
  },
  { additionalProperties: false },
);
export type ListUsersFilters = Static<typeof ListUsersQuery>;
export const UserPage = Page(UserSummarySchema);
