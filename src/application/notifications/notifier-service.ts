/**
 * Defining and removing notifiers (admin API). A webhook notifier gets a signing secret made
 * here (256 random bits), stored before the definition is recorded and returned once, by the
 * call that defines it: receivers check each message's `Sluice-Signature` with it. The
 * definition is checked before the secret is stored, so a refused one leaves nothing behind;
 * the secret is deleted once the notifier's removal is recorded.
 */
import { randomBytes } from 'node:crypto';
import { DomainError } from '../../domain/decider.js';
import type { EventStore } from '../../domain/event-store.js';
import type { EventMetadata } from '../../domain/events/envelope.js';
import { notifierStream } from '../../domain/events/notifier-events.js';
import { checkNotifier, type NotifierDefinition, notifierDecider } from '../../domain/flows/notifier.js';
import { handleCommand } from '../command-handler.js';
import type { IdGenerator, ReactionSecrets } from '../ports.js';

export interface NotifierServiceDeps {
  readonly store: EventStore;
  readonly ids: IdGenerator;
  readonly secrets: ReactionSecrets;
  /** An SMTP server is configured (MFT_SMTP_URL): e-mail notifiers are refused without one. */
  readonly emailConfigured: boolean;
}

export class NotifierService {
  constructor(private readonly deps: NotifierServiceDeps) {}

  async define(
    input: Omit<NotifierDefinition, 'notifierId'>,
    metadata: EventMetadata,
  ): Promise<{ notifier: NotifierDefinition; signingSecret: string | null; position: number }> {
    checkNotifier(input);
    if (input.channel.kind === 'email' && !this.deps.emailConfigured)
      throw new DomainError(
        'invalid-notifier',
        'no SMTP server is configured (MFT_SMTP_URL): e-mail cannot be sent',
      );
    const notifierId = this.deps.ids.uuid();
    let signingSecret: string | null = null;
    if (input.channel.kind === 'webhook') {
      signingSecret = `whsec_${randomBytes(32).toString('base64url')}`;
      await this.deps.secrets.put(notifierId, { secret: signingSecret });
    }
    const notifier = { ...input, notifierId };
    const { append } = await handleCommand(
      this.deps.store,
      notifierStream(notifierId),
      notifierDecider,
      { type: 'DefineNotifier', notifier },
      metadata,
    );
    return { notifier, signingSecret, position: append?.lastPosition ?? 0 };
  }

  async remove(notifierId: string, metadata: EventMetadata): Promise<number> {
    const { append } = await handleCommand(
      this.deps.store,
      notifierStream(notifierId),
      notifierDecider,
      { type: 'RemoveNotifier', notifierId },
      metadata,
    );
    await this.deps.secrets.remove(notifierId);
    return append?.lastPosition ?? 0;
  }
}
