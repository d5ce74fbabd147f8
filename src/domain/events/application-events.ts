/** The application registry: integrators' application ids must be registered before use. */
import { Type } from '@sinclair/typebox';
import { ApplicationId, eventSchema, Text, UserId } from './schema-helpers.js';

export const ApplicationRegistered = eventSchema('ApplicationRegistered', {
  applicationId: ApplicationId,
  name: Text(100, 1),
  description: Text(1000),
  registeredBy: UserId,
});

export const ApplicationEnabledChanged = eventSchema('ApplicationEnabledChanged', {
  applicationId: ApplicationId,
  enabled: Type.Boolean(),
  changedBy: UserId,
});
