/**
 * A flow's definition (flow-events.ts): defined once, removed once. The rules a definition
 * must keep: the source and target are different accounts (least privilege: the target user
 * may see nothing of the source), folders are canonical virtual paths, a regex compiles.
 */
import { type Decider, DomainError } from '../decider.js';
import type { EventOfType } from '../events/catalogue.js';
import { InvalidPath, resolveVirtualPath } from '../files/virtual-path.js';

export type FlowEvent = EventOfType<'FlowDefined' | 'FlowRemoved'>;
export type FlowDefinition = EventOfType<'FlowDefined'>['data'];

export type FlowCommand =
  | { type: 'DefineFlow'; flow: FlowDefinition }
  | { type: 'RemoveFlow'; flowId: string };

export type FlowState = { status: 'none' | 'defined' | 'removed' };

function canonicalFolder(folder: string, what: string): string {
  try {
    return resolveVirtualPath(folder);
  } catch (error) {
    if (error instanceof InvalidPath) throw new DomainError('invalid-flow', `${what}: ${error.message}`);
    throw error;
  }
}

/** The definition as recorded (folders canonical); throws `invalid-flow` when it breaks a rule. */
export function checkFlow(flow: FlowDefinition): FlowDefinition {
  const sourceFolder = canonicalFolder(flow.sourceFolder, 'sourceFolder');
  if (flow.match.kind === 'regex') {
    try {
      new RegExp(flow.match.pattern, 'u');
    } catch (error) {
      throw new DomainError(
        'invalid-flow',
        `match.pattern is not a regular expression: ${(error as Error).message}`,
      );
    }
  }
  if (flow.target.kind === 'user') {
    if (flow.target.userId === flow.sourceUserId)
      throw new DomainError('invalid-flow', 'the source and target of a flow must be different users');
    const folder = canonicalFolder(flow.target.folder, 'target.folder');
    return { ...flow, sourceFolder, target: { ...flow.target, folder } };
  }
  return { ...flow, sourceFolder };
}

export const flowDecider: Decider<FlowCommand, FlowEvent, FlowState> = {
  initialState: () => ({ status: 'none' }),
  decide(command, state) {
    if (command.type === 'DefineFlow') {
      if (state.status !== 'none') throw new DomainError('flow-exists', 'a flow with this id exists');
      return [{ type: 'FlowDefined', data: checkFlow(command.flow) }];
    }
    if (state.status !== 'defined') throw new DomainError('flow-not-found', 'no such flow');
    return [{ type: 'FlowRemoved', data: { flowId: command.flowId } }];
  },
  evolve(_state, event) {
    return { status: event.type === 'FlowDefined' ? 'defined' : 'removed' };
  },
};
