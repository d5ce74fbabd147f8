/**
 * Events about Sluice itself. Starting and stopping the audit trail is itself audited
 * (PCI DSS 10.2.1.6), so every server process records when it starts and when it stops.
 */
import { Type } from '@sinclair/typebox';

export const ServerStarted = Type.Object(
  {
    type: Type.Literal('ServerStarted'),
    data: Type.Object(
      {
        instanceId: Type.String({ format: 'uuid' }),
        version: Type.String({ maxLength: 64 }),
        hostname: Type.String({ maxLength: 255 }),
        pid: Type.Integer({ minimum: 1 }),
        eventStore: Type.Union([Type.Literal('postgres'), Type.Literal('kurrentdb')]),
        startedAt: Type.String({ format: 'date-time' }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export const ServerStopped = Type.Object(
  {
    type: Type.Literal('ServerStopped'),
    data: Type.Object(
      {
        instanceId: Type.String({ format: 'uuid' }),
        reason: Type.String({ maxLength: 64 }),
        stoppedAt: Type.String({ format: 'date-time' }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
