/**
 * The metadata every event carries beside its data: who did it, through which application,
 * from where, on behalf of whom, and what caused it. One TypeBox schema gives both the
 * runtime check and the TypeScript type.
 */
import { type Static, Type } from '@sinclair/typebox';
import { FreeText, Text } from './schema-helpers.js';

/** Bumped when the envelope's shape changes; readers upcast older versions. */
export const ENVELOPE_VERSION = 1;

export const ActorSchema = Type.Object(
  {
    userId: Type.Optional(Type.Integer({ minimum: 1 })),
    applicationId: Type.Optional(Type.Integer({ minimum: 1 })),
    sessionId: Type.Optional(Type.String({ format: 'uuid' })),
    clientIp: Type.Optional(Text(64)),
    clientPort: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    /** The external person a service account acts for (OpenImmutableUserString). */
    userString: Type.Optional(FreeText(255, 1)),
  },
  { additionalProperties: false },
);
export type Actor = Static<typeof ActorSchema>;

export const EventMetadataSchema = Type.Object(
  {
    envelopeVersion: Type.Literal(ENVELOPE_VERSION),
    /** Groups every event caused by one request or one protocol operation. */
    correlationId: Type.String({ format: 'uuid' }),
    /** The event or request that directly caused this one. */
    causationId: Type.Optional(Text(128, 1)),
    actor: ActorSchema,
  },
  { additionalProperties: false },
);
export type EventMetadata = Static<typeof EventMetadataSchema>;
