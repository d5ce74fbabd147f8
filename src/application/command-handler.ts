/**
 * Runs a decider against one stream: read the stream, fold its state, decide, append at the
 * revision that was read. A concurrent writer makes the append fail with
 * `WrongExpectedRevision`; then the stream is read again and the command decided again.
 */
import type { Decider } from '../domain/decider.js';
import type { AppendResult, EventStore, ExpectedRevision, RecordedEvent } from '../domain/event-store.js';
import { WrongExpectedRevision } from '../domain/event-store.js';
import { type DomainEvent, toNewEvent, validateEvent } from '../domain/events/catalogue.js';
import type { EventMetadata } from '../domain/events/envelope.js';

export interface Loaded<State> {
  readonly state: State;
  readonly expected: ExpectedRevision;
}

export interface Handled<Event, State> {
  readonly events: Event[];
  readonly state: State;
  /** Null when the command decided nothing (nothing appended). */
  readonly append: AppendResult | null;
}

/** How much of a stream its state needs: all of it, or (for slot-like streams) the last event. */
export type LoadMode = 'all' | 'last';

const MAX_ATTEMPTS = 100;

function asEvent<Event extends DomainEvent>(recorded: RecordedEvent): Event {
  return validateEvent(recorded) as Event;
}

export async function loadState<Command, Event extends DomainEvent, State>(
  store: EventStore,
  streamId: string,
  decider: Decider<Command, Event, State>,
  mode: LoadMode = 'all',
): Promise<Loaded<State>> {
  const recorded =
    mode === 'last'
      ? await store.readStream(streamId, { backwards: true, maxCount: 1 })
      : await store.readStream(streamId);
  let state = decider.initialState();
  for (const event of recorded) state = decider.evolve(state, asEvent<Event>(event));
  const last =
    recorded.length === 0 ? undefined : mode === 'last' ? recorded[0] : recorded[recorded.length - 1];
  return { state, expected: last === undefined ? 'no_stream' : last.streamRevision };
}

export async function handleCommand<Command, Event extends DomainEvent, State>(
  store: EventStore,
  streamId: string,
  decider: Decider<Command, Event, State>,
  /** Called again after a conflict, with the state as it is then. */
  command: Command | ((state: State) => Command | Promise<Command>),
  metadata: EventMetadata,
  mode: LoadMode = 'all',
): Promise<Handled<Event, State>> {
  for (let attempt = 1; ; attempt++) {
    const { state, expected } = await loadState(store, streamId, decider, mode);
    const resolved =
      typeof command === 'function'
        ? await (command as (s: State) => Command | Promise<Command>)(state)
        : command;
    const events = decider.decide(resolved, state);
    if (events.length === 0) return { events, state, append: null };
    try {
      const append = await store.appendToStream(
        streamId,
        events.map((e) => toNewEvent(e, metadata)),
        { expectedRevision: expected },
      );
      const next = events.reduce(decider.evolve, state);
      return { events, state: next, append };
    } catch (error) {
      if (!(error instanceof WrongExpectedRevision) || attempt >= MAX_ATTEMPTS) throw error;
    }
  }
}
