/**
 * Defining and removing flows, and requeuing dead-lettered deliveries (admin API). A flow's
 * users must exist and be active when it is defined; an outside target's credentials go to the
 * secret store before the definition is recorded, so a recorded flow always has them, and
 * only once the definition is found good, so a refused one leaves none behind. A removed flow's
 * credentials are deleted once its removal is recorded.
 */
import { DomainError } from '../../domain/decider.js';
import { deliveryDecider } from '../../domain/deliveries/delivery.js';
import type { EventStore } from '../../domain/event-store.js';
import { deliveryStream } from '../../domain/events/delivery-events.js';
import type { EventMetadata } from '../../domain/events/envelope.js';
import { flowStream } from '../../domain/events/flow-events.js';
import { checkFlow, type FlowDefinition, flowDecider } from '../../domain/flows/flow.js';
import type { UserState } from '../../domain/users/user.js';
import { handleCommand } from '../command-handler.js';
import type { IdGenerator, ReactionSecrets } from '../ports.js';

export type NewFlow = Omit<FlowDefinition, 'flowId'>;
export type FlowCredentials = { readonly password: string } | { readonly privateKey: string };

export interface FlowServiceDeps {
  readonly store: EventStore;
  readonly ids: IdGenerator;
  readonly secrets: ReactionSecrets;
  readonly users: { getUser(userId: number): Promise<UserState> };
  /** What is wrong with an outside target and its credentials (empty: nothing that can be seen before connecting). */
  readonly outboundProblems: (target: SftpTarget & FlowCredentialFields) => string[];
}

type SftpTarget = Extract<FlowDefinition['target'], { kind: 'sftp' }>;
type FlowCredentialFields = { readonly password?: string; readonly privateKey?: string };

export class FlowService {
  constructor(private readonly deps: FlowServiceDeps) {}

  private async requireActive(userId: number, role: string): Promise<void> {
    const user = await this.deps.users.getUser(userId);
    if (user.status !== 'active')
      throw new DomainError('invalid-flow', `the ${role} user ${userId} is not an active user`);
  }

  async define(
    input: NewFlow,
    credentials: FlowCredentials | undefined,
    metadata: EventMetadata,
  ): Promise<{ flow: FlowDefinition; position: number }> {
    await this.requireActive(input.sourceUserId, 'source');
    if (input.target.kind === 'user') await this.requireActive(input.target.userId, 'target');
    const flowId = this.deps.ids.uuid();
    checkFlow({ ...input, flowId });
    if (input.target.kind === 'sftp') {
      const expected = input.target.auth === 'password' ? 'password' : 'privateKey';
      if (!credentials || !(expected in credentials))
        throw new DomainError(
          'invalid-flow',
          `an SFTP target with auth ${input.target.auth} needs its ${expected}`,
        );
      const problems = this.deps.outboundProblems({ ...input.target, ...credentials });
      if (problems.length > 0) throw new DomainError('invalid-flow', problems.join('; '));
      await this.deps.secrets.put(flowId, credentials);
    } else if (credentials) {
      throw new DomainError('invalid-flow', 'credentials are only for SFTP targets');
    }
    const { events, append } = await handleCommand(
      this.deps.store,
      flowStream(flowId),
      flowDecider,
      { type: 'DefineFlow', flow: { ...input, flowId } },
      metadata,
    );
    const defined = events[0];
    if (defined?.type !== 'FlowDefined' || !append) throw new Error('a flow definition recorded nothing');
    return { flow: defined.data, position: append.lastPosition };
  }

  async remove(flowId: string, metadata: EventMetadata): Promise<number> {
    const { append } = await handleCommand(
      this.deps.store,
      flowStream(flowId),
      flowDecider,
      { type: 'RemoveFlow', flowId },
      metadata,
    );
    await this.deps.secrets.remove(flowId);
    return append?.lastPosition ?? 0;
  }

  /** A dead-lettered delivery gets the policy's attempts again. */
  async requeue(deliveryId: string, metadata: EventMetadata): Promise<number> {
    const { append } = await handleCommand(
      this.deps.store,
      deliveryStream(deliveryId),
      deliveryDecider,
      { type: 'Requeue', deliveryId },
      metadata,
    );
    return append?.lastPosition ?? 0;
  }
}
