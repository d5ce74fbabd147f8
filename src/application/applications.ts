/** The application registry: built-in ids below 1000, integrators' ids registered by an admin. */
import { builtInApplications } from '../domain/applications/built-in.js';
import { applicationDecider, applicationStream } from '../domain/applications/decider.js';
import type { EventStore } from '../domain/event-store.js';
import type { EventMetadata } from '../domain/events/envelope.js';
import { handleCommand, loadState } from './command-handler.js';

export interface ApplicationView {
  readonly applicationId: number;
  readonly name: string;
  readonly description: string;
  readonly enabled: boolean;
  readonly builtIn: boolean;
}

export class ApplicationService {
  constructor(private readonly store: EventStore) {}

  /** A built-in or registered application, or undefined. */
  async get(applicationId: number): Promise<ApplicationView | undefined> {
    const builtIn = builtInApplications.find((a) => a.applicationId === applicationId);
    if (builtIn) return { ...builtIn, enabled: true, builtIn: true };
    const { state } = await loadState(this.store, applicationStream(applicationId), applicationDecider);
    if (state.status !== 'registered') return undefined;
    return {
      applicationId: state.applicationId,
      name: state.name,
      description: state.description,
      enabled: state.enabled,
      builtIn: false,
    };
  }

  async register(
    input: { applicationId: number; name: string; description: string },
    by: number,
    metadata: EventMetadata,
  ): Promise<{ application: ApplicationView; position: number }> {
    const result = await handleCommand(
      this.store,
      applicationStream(input.applicationId),
      applicationDecider,
      { type: 'RegisterApplication', ...input, by },
      metadata,
    );
    return {
      application: { ...input, enabled: true, builtIn: false },
      position: result.append?.lastPosition ?? 0,
    };
  }

  async setEnabled(
    applicationId: number,
    enabled: boolean,
    by: number,
    metadata: EventMetadata,
  ): Promise<number | null> {
    const result = await handleCommand(
      this.store,
      applicationStream(applicationId),
      applicationDecider,
      { type: 'SetApplicationEnabled', applicationId, enabled, by },
      metadata,
    );
    return result.append?.lastPosition ?? null;
  }
}
