/**
 * A server process's run as facts: ServerStarted (with the settings it runs under, secrets
 * left out) and ServerStopped, on the process's own stream. Starting and stopping the audit
 * trail is itself audited (PCI DSS 10.2.1.6).
 */
import type { EventStore } from '../domain/event-store.js';
import { type EventOfType, toNewEvent } from '../domain/events/catalogue.js';
import { serverStream } from '../domain/events/server-events.js';
import { systemMetadata } from './metadata.js';
import type { Clock, IdGenerator } from './ports.js';

export type ServerStartedData = Omit<EventOfType<'ServerStarted'>['data'], 'startedAt'>;

export interface ServerRun {
  /** Records ServerStopped after the ServerStarted of this run. */
  stopped(reason: string): Promise<void>;
}

export async function recordServerStarted(
  deps: { store: EventStore; clock: Clock; ids: IdGenerator },
  data: ServerStartedData,
): Promise<ServerRun> {
  const stream = serverStream(data.instanceId);
  const started = await deps.store.appendToStream(
    stream,
    [
      toNewEvent(
        { type: 'ServerStarted', data: { ...data, startedAt: deps.clock.now().toISOString() } },
        systemMetadata(deps.ids),
      ),
    ],
    { expectedRevision: 'no_stream' },
  );
  return {
    async stopped(reason) {
      await deps.store.appendToStream(
        stream,
        [
          toNewEvent(
            {
              type: 'ServerStopped',
              data: { instanceId: data.instanceId, reason, stoppedAt: deps.clock.now().toISOString() },
            },
            systemMetadata(deps.ids),
          ),
        ],
        { expectedRevision: started.nextExpectedRevision },
      );
    },
  };
}
