/**
 * A decider (Emmett style) for one stream type: `decide` turns a command and the stream's
 * state into new events, or throws a `DomainError`; `evolve` folds an event into the state.
 * Both are pure: time and ids arrive inside the command.
 */
import type { DomainEvent } from './events/catalogue.js';

export interface Decider<Command, Event extends DomainEvent, State> {
  readonly initialState: () => State;
  readonly decide: (command: Command, state: State) => Event[];
  readonly evolve: (state: State, event: Event) => State;
}

/** A rule said no. `code` is stable; front ends map it to their own wire codes in one place. */
export class DomainError<Code extends string = string> extends Error {
  override readonly name = 'DomainError';
  constructor(
    readonly code: Code,
    message: string,
    /** Facts the caller may act on (e.g. the session that holds a slot). */
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}

/** Folds events into a state with the decider's `evolve`. */
export function fold<Event extends DomainEvent, State>(
  decider: Pick<Decider<unknown, Event, State>, 'initialState' | 'evolve'>,
  events: Iterable<Event>,
): State {
  let state = decider.initialState();
  for (const event of events) state = decider.evolve(state, event);
  return state;
}
