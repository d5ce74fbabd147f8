/**
 * Events about Sluice itself. Starting and stopping the audit trail is itself audited
 * (PCI DSS 10.2.1.6), so every server process records when it starts and when it stops.
 */
import { Type } from '@sinclair/typebox';
import { eventSchema, Text, Timestamp, Uuid } from './schema-helpers.js';

export const ServerStarted = eventSchema('ServerStarted', {
  instanceId: Uuid,
  version: Text(64),
  hostname: Text(255),
  pid: Type.Integer({ minimum: 1 }),
  eventStore: Type.Union([Type.Literal('postgres'), Type.Literal('kurrentdb')]),
  startedAt: Timestamp,
  /**
   * The settings it started with (MFT_*), secrets only as "set"/"unset" and URLs without
   * credentials. Absent in events recorded before it was kept.
   */
  configuration: Type.Optional(
    Type.Record(
      Type.String({ maxLength: 100 }),
      Type.Union([Text(4096), Type.Number(), Type.Boolean(), Type.Null()]),
      { maxProperties: 200 },
    ),
  ),
});

export const ServerStopped = eventSchema('ServerStopped', {
  instanceId: Uuid,
  reason: Text(64),
  stoppedAt: Timestamp,
});

/** One stream per server process run. */
export const serverStream = (instanceId: string) => `server-${instanceId}`;
