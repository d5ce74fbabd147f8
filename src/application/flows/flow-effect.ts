/**
 * The effect of a `flow` delivery: the flow's definition as the flows view holds it, the two
 * users as their streams stand, then the transfer to the target user (move-to-user.ts) or to
 * the outside SFTP server (through the OutboundSftp port, with the flow's own credentials).
 */
import type { FlowDefinition } from '../../domain/flows/flow.js';
import type { UserState } from '../../domain/users/user.js';
import { DeliveryError } from '../deliveries/delivery-error.js';
import type { Effect } from '../deliveries/worker.js';
import type { ReactionSecrets } from '../ports.js';
import { activeUser } from './flow-actor.js';
import { type MoveToUserDeps, moveToUser, removeIfUnchanged } from './move-to-user.js';

type SftpTarget = Extract<FlowDefinition['target'], { kind: 'sftp' }>;

/** Sends a local file to an outside SFTP server (src/adapters/outbound-sftp). */
export interface OutboundSftp {
  send(
    target: SftpTarget & { readonly password?: string; readonly privateKey?: string },
    source: { readonly path: string; readonly size: number; readonly sha256: string },
    remoteName: string,
    options: { readonly signal: AbortSignal },
  ): Promise<{ outcome: 'sent' | 'already-there'; bytesSent: number; resumedFrom: number }>;
}

export interface FlowEffectDeps extends MoveToUserDeps {
  readonly flows: {
    definition(flowId: string): Promise<{ flow: FlowDefinition; removed: boolean } | undefined>;
  };
  readonly users: { getUser(userId: number): Promise<UserState> };
  readonly storage: MoveToUserDeps['storage'] & { locate(home: string, path: string): Promise<string> };
  readonly secrets: ReactionSecrets;
  readonly outbound: OutboundSftp;
}

export function flowEffect(deps: FlowEffectDeps): Effect {
  return async (delivery, signal) => {
    const file = delivery.file;
    if (file === null) throw new DeliveryError('a flow delivery without a file', false);
    const found = await deps.flows.definition(delivery.ownerId);
    if (!found) throw new DeliveryError(`flow ${delivery.ownerId} is unknown`, false);
    if (found.removed) throw new DeliveryError(`flow ${delivery.ownerId} was removed`, false);
    const { flow } = found;
    const source = await activeUser(deps.users, file.userId, 'source');
    if (flow.target.kind === 'user') {
      const target = await activeUser(deps.users, flow.target.userId, 'target');
      return { result: await moveToUser(deps, flow, flow.target, { source, target }, delivery, file) };
    }
    const secret = await deps.secrets.get(flow.flowId);
    if (!secret) throw new DeliveryError(`flow ${flow.flowId} has no credentials stored`, false);
    const home = await deps.storage.home(source.homeFolder);
    const local = await deps.storage.locate(home, file.path);
    const name = file.path.slice(file.path.lastIndexOf('/') + 1);
    const sent = await deps.outbound.send(
      { ...flow.target, ...secret },
      { path: local, size: file.size, sha256: file.sha256 },
      name,
      {
        signal,
      },
    );
    if (!flow.keepSource) await removeIfUnchanged(deps, source, delivery.deliveryId, flow, file);
    const how =
      sent.outcome === 'already-there'
        ? 'already there'
        : `sent ${sent.bytesSent} bytes${sent.resumedFrom > 0 ? ` (resumed at ${sent.resumedFrom})` : ''}`;
    return {
      result: `${how}: ${file.path} of user ${source.userId} to ${flow.target.host}:${flow.target.directory}/${name}`,
    };
  };
}
