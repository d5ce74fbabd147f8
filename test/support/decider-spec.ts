/** Given/when/then for deciders (Emmett's DeciderSpecification, in node:assert). */
import assert from 'node:assert/strict';
import { type Decider, DomainError } from '../../src/domain/decider.js';
import type { DomainEvent } from '../../src/domain/events/catalogue.js';

export function specification<Command, Event extends DomainEvent, State>(
  decider: Decider<Command, Event, State>,
) {
  return {
    given(history: readonly Event[]) {
      return {
        when(command: Command) {
          const run = () => decider.decide(command, history.reduce(decider.evolve, decider.initialState()));
          return {
            thenEmits(expected: readonly Event[]) {
              assert.deepEqual(run(), expected);
            },
            thenNothing() {
              assert.deepEqual(run(), []);
            },
            thenThrows(code: string, details?: Record<string, unknown>) {
              assert.throws(run, (error: unknown) => {
                assert.ok(error instanceof DomainError, `expected a DomainError, got ${String(error)}`);
                assert.equal(error.code, code);
                if (details) assert.deepEqual(error.details, details);
                return true;
              });
            },
          };
        },
      };
    },
  };
}
