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
});

export const ServerStopped = eventSchema('ServerStopped', {
  instanceId: Uuid,
  reason: Text(64),
  stoppedAt: Timestamp,
});
