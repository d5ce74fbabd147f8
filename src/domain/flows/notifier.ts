/**
 * A notifier's definition (notifier-events.ts): defined once, removed once. A webhook's URL
 * must be one its sender will post to (webhook.ts): a URL, http(s), holding no credentials (the
 * signature authenticates). The schema's pattern lets through what only parsing tells apart
 * (`http://[`, `http://user:pass@host`); found here, such a notifier is refused when defined
 * rather than dead-lettering every message it would have sent. So is an e-mail recipient the
 * SMTP sender would refuse (smtp.ts): each must be one plain address. (These rules are here, not
 * in the event's schema: events already recorded must stay readable.)
 */
import { type Decider, DomainError } from '../decider.js';
import type { EventOfType } from '../events/catalogue.js';

export type NotifierEvent = EventOfType<'NotifierDefined' | 'NotifierRemoved'>;
export type NotifierDefinition = EventOfType<'NotifierDefined'>['data'];

export type NotifierCommand =
  | { type: 'DefineNotifier'; notifier: NotifierDefinition }
  | { type: 'RemoveNotifier'; notifierId: string };

export type NotifierState = { status: 'none' | 'defined' | 'removed' };

/** One plain address, local@domain: no display name, list, quoting or line break. */
export const PLAIN_ADDRESS = /^[^\s@<>,;:"()[\]\\]+@[^\s@<>,;:"()[\]\\]+$/;

/** Throws `invalid-notifier` unless the channel can be sent to. */
export function checkNotifier(notifier: Pick<NotifierDefinition, 'channel'>): void {
  const { channel } = notifier;
  if (channel.kind === 'email') {
    const bad = channel.to.find((address) => !PLAIN_ADDRESS.test(address));
    if (bad !== undefined)
      throw new DomainError(
        'invalid-notifier',
        `channel.to: ${JSON.stringify(bad)} is not one plain address`,
      );
  }
  if (channel.kind !== 'webhook') return;
  let url: URL;
  try {
    url = new URL(channel.url);
  } catch {
    throw new DomainError('invalid-notifier', `channel.url ${JSON.stringify(channel.url)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new DomainError('invalid-notifier', `channel.url must be http(s), not ${url.protocol}`);
  if (url.username !== '' || url.password !== '')
    throw new DomainError(
      'invalid-notifier',
      'channel.url must not hold credentials (the signature authenticates)',
    );
}

export const notifierDecider: Decider<NotifierCommand, NotifierEvent, NotifierState> = {
  initialState: () => ({ status: 'none' }),
  decide(command, state) {
    if (command.type === 'DefineNotifier') {
      if (state.status !== 'none') throw new DomainError('notifier-exists', 'a notifier with this id exists');
      checkNotifier(command.notifier);
      return [{ type: 'NotifierDefined', data: command.notifier }];
    }
    if (state.status !== 'defined') throw new DomainError('notifier-not-found', 'no such notifier');
    return [{ type: 'NotifierRemoved', data: { notifierId: command.notifierId } }];
  },
  evolve(_state, event) {
    return { status: event.type === 'NotifierDefined' ? 'defined' : 'removed' };
  },
};
