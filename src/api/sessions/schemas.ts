/** Request and response schemas of the session calls: validation, TypeScript types and OpenAPI. */
import { type Static, Type } from '@sinclair/typebox';
import { FreeText, Secret, Text } from '../../domain/events/schema-helpers.js';

const Uuid = Type.String({ format: 'uuid', examples: ['01937c2e-8a4b-7cde-9f01-23456789abcd'] });
const ApplicationId = Type.Integer({
  minimum: 1,
  maximum: 2_147_483_647,
  examples: [1000],
  description:
    'Built-in ids are below 1000 (1 admin API, 2 HTTP files, 3 SFTP, 4 FTPS); integrators’ ids are 1000 and up, registered by an admin',
});
const UserName = Text(254, 1, { examples: ['alice'] });
const Password = Secret(1024, 1, { examples: ['correct horse battery staple'] });
const ClientVersion = Text(100, 0, { examples: ['PartnerPortal 4.2'] });
const IpAddress = Type.String({
  anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }],
  maxLength: 64,
  examples: ['203.0.113.7'],
});
const UserString = FreeText(255, 1, {
  description: 'The external person the service acts for; recorded on every upload, download and delete',
  examples: ['jane.doe@partner.example'],
});
const Ticket = Text(8192, 1, { description: 'See docs/tickets.md' });

export const OpenBody = Type.Object(
  { userName: UserName, password: Password, applicationId: ApplicationId, clientVersion: ClientVersion },
  { additionalProperties: false },
);
export const OpenImmutableBody = Type.Object(
  {
    userName: UserName,
    password: Password,
    applicationId: ApplicationId,
    clientVersion: Type.Optional(ClientVersion),
  },
  { additionalProperties: false },
);
export const OpenWithTicketBody = Type.Object(
  { ticket: Ticket, applicationId: ApplicationId, clientVersion: ClientVersion },
  { additionalProperties: false },
);
export const OpenWithTicketExBody = Type.Object(
  {
    ticket: Ticket,
    emailAddress: Type.String({ format: 'email', maxLength: 254, examples: ['jane.doe@partner.example'] }),
    firstName: Text(100),
    lastName: Text(100),
    applicationId: ApplicationId,
    clientVersion: ClientVersion,
  },
  { additionalProperties: false },
);
/** The service authenticates with `Authorization: Bearer <its token>`; the body names the user. */
const ServiceFields = {
  userId: Type.Integer({ minimum: 1, maximum: 2_147_483_647, examples: [42] }),
  applicationId: ApplicationId,
  ipAddress: IpAddress,
};
export const OpenImpersonateBody = Type.Object(ServiceFields, { additionalProperties: false });
export const OpenUserStringBody = Type.Union(
  [
    Type.Object(
      { ...ServiceFields, userString: UserString },
      { additionalProperties: false, title: 'Service session form' },
    ),
    Type.Object(
      {
        userName: UserName,
        password: Password,
        applicationId: ApplicationId,
        clientVersion: ClientVersion,
        userString: UserString,
      },
      { additionalProperties: false, title: 'User name and password form' },
    ),
  ],
  { description: 'Exactly one of the two forms' },
);
export const CloseBody = Type.Object(
  {
    sessionId: Type.Optional(
      Type.String({
        format: 'uuid',
        description: 'The session to close: the caller’s own (the default) or, for an admin, any',
      }),
    ),
  },
  { additionalProperties: false },
);

export const OpenedSchema = Type.Object({
  sessionId: Type.String({
    format: 'uuid',
    description: 'The public id: in events, views, timelines and audit rows. It is not a credential',
  }),
  token: Type.String({
    pattern: '^sluice_[A-Za-z0-9_-]{43}$',
    description:
      'The secret bearer token (256 random bits): send it as `Authorization: Bearer <token>`. ' +
      'Returned only here; Sluice keeps only its hash',
  }),
  userId: Type.Integer(),
  position: Type.Integer({
    description: 'Global position of the event that opened it: pass as minPosition to queries',
  }),
});
export type OpenedBody = Static<typeof OpenedSchema>;

export const ClosedSchema = Type.Object({ sessionId: Uuid, position: Type.Integer() });

export const CurrentSessionSchema = Type.Object({
  sessionId: Uuid,
  userId: Type.Integer(),
  userName: Type.String(),
  rights: Type.Array(Type.String()),
  applicationId: Type.Integer(),
  kind: Type.Union([
    Type.Literal('replaceable'),
    Type.Literal('immutable'),
    Type.Literal('impersonated'),
    Type.Literal('user-string'),
  ]),
  method: Type.String(),
  clientVersion: Type.Union([Type.String(), Type.Null()]),
  clientIp: Type.String(),
  userString: Type.Union([Type.String(), Type.Null()]),
  impersonator: Type.Union([Type.Object({ userId: Type.Integer(), sessionId: Uuid }), Type.Null()]),
  openedAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
