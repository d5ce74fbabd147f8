/** One stream per integrator application (`application-<id>`). */
import { type Decider, DomainError } from '../decider.js';
import type { EventOfType } from '../events/catalogue.js';
import { FIRST_INTEGRATOR_APPLICATION_ID } from './built-in.js';

export type ApplicationEvent = EventOfType<'ApplicationRegistered' | 'ApplicationEnabledChanged'>;

export type ApplicationCommand =
  | {
      type: 'RegisterApplication';
      applicationId: number;
      name: string;
      description: string;
      by: number;
    }
  | { type: 'SetApplicationEnabled'; applicationId: number; enabled: boolean; by: number };

export type ApplicationState =
  | { status: 'unregistered' }
  | { status: 'registered'; applicationId: number; name: string; description: string; enabled: boolean };

export const applicationStream = (applicationId: number) => `application-${applicationId}`;

export const applicationDecider: Decider<ApplicationCommand, ApplicationEvent, ApplicationState> = {
  initialState: () => ({ status: 'unregistered' }),
  decide(command, state) {
    switch (command.type) {
      case 'RegisterApplication': {
        if (command.applicationId < FIRST_INTEGRATOR_APPLICATION_ID) {
          throw new DomainError(
            'application-id-reserved',
            `application ids below ${FIRST_INTEGRATOR_APPLICATION_ID} are reserved for Sluice`,
          );
        }
        if (state.status === 'registered') {
          throw new DomainError(
            'application-exists',
            `application ${command.applicationId} is already registered`,
          );
        }
        return [
          {
            type: 'ApplicationRegistered',
            data: {
              applicationId: command.applicationId,
              name: command.name,
              description: command.description,
              registeredBy: command.by,
            },
          },
        ];
      }
      case 'SetApplicationEnabled': {
        if (state.status !== 'registered') {
          throw new DomainError(
            'application-unknown',
            `application ${command.applicationId} is not registered`,
          );
        }
        if (state.enabled === command.enabled) return [];
        return [
          {
            type: 'ApplicationEnabledChanged',
            data: { applicationId: command.applicationId, enabled: command.enabled, changedBy: command.by },
          },
        ];
      }
      default: {
        const never: never = command;
        throw new Error(`unhandled command ${JSON.stringify(never)}`);
      }
    }
  },
  evolve(state, event) {
    switch (event.type) {
      case 'ApplicationRegistered':
        return {
          status: 'registered',
          applicationId: event.data.applicationId,
          name: event.data.name,
          description: event.data.description,
          enabled: true,
        };
      case 'ApplicationEnabledChanged':
        return state.status === 'registered' ? { ...state, enabled: event.data.enabled } : state;
      default:
        return state;
    }
  },
};
