/**
 * Flows (docs/flows.md): an administrator routes the complete uploads of one user's folder to
 * another user's folder or to an outside SFTP server. A flow's definition is one stream,
 * `flow-<flowId>`; its runs are deliveries (delivery-events.ts). Credentials for an outside
 * server never enter an event: the credential store keeps them, the event says which kind.
 */
import { Type } from '@sinclair/typebox';
import { VirtualPath } from './file-events.js';
import { eventSchema, Text, UserId, Uuid } from './schema-helpers.js';

export const FlowMatch = Type.Object(
  {
    kind: Type.Union([Type.Literal('glob'), Type.Literal('regex')]),
    /** Against the path below the source folder (`a.csv`, `2026/a.csv`). */
    pattern: Text(256, 1),
  },
  { additionalProperties: false },
);

export const FlowTrigger = Type.Object(
  {
    /** A file whose name ends so (e.g. `.done`) releases files; it is never moved itself. */
    suffix: Type.String({ minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9._~-]+$' }),
    /** `named`: `a.csv.done` releases `a.csv`; `batch`: every matched file waiting in its folder. */
    releases: Type.Union([Type.Literal('named'), Type.Literal('batch')]),
  },
  { additionalProperties: false },
);

/** A DNS name or an IP address. */
export const HostName = Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.:-]+$' });

export const UserTarget = Type.Object(
  { kind: Type.Literal('user'), userId: UserId, folder: VirtualPath },
  { additionalProperties: false },
);

export const SftpTarget = Type.Object(
  {
    kind: Type.Literal('sftp'),
    host: HostName,
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    username: Text(64, 1),
    /** As `ssh-keygen -lf` prints it: `SHA256:` and 43 base64 characters. */
    hostKeySha256: Type.String({ pattern: '^SHA256:[A-Za-z0-9+/]{43}$' }),
    directory: Text(1024, 1),
    /** Which credential the credential store holds for it. */
    auth: Type.Union([Type.Literal('password'), Type.Literal('key')]),
  },
  { additionalProperties: false },
);

export const FlowTarget = Type.Union([UserTarget, SftpTarget]);

export const FlowDefined = eventSchema('FlowDefined', {
  flowId: Uuid,
  name: Text(100, 1),
  sourceUserId: UserId,
  sourceFolder: VirtualPath,
  match: FlowMatch,
  trigger: Type.Union([FlowTrigger, Type.Null()]),
  target: FlowTarget,
  /** Leave the source file in place after a transfer (default: it is moved). */
  keepSource: Type.Boolean(),
});

export const FlowRemoved = eventSchema('FlowRemoved', { flowId: Uuid });

export const flowStream = (flowId: string) => `flow-${flowId}`;
