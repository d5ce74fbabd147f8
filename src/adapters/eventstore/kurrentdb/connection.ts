/**
 * Connection strings: EVENTSTORE_URL may use the `kurrentdb://` schemes, which
 * @eventstore/db-client 6.2.1 does not know (it parses `esdb://` and `esdb+discover://` only);
 * both name the same gRPC endpoint and options, so the scheme is rewritten before the client
 * sees it. Logs and errors show the URL without its password.
 */
import { EventStoreDBClient } from '@eventstore/db-client';

const SCHEMES: Readonly<Record<string, string>> = {
  esdb: 'esdb',
  'esdb+discover': 'esdb+discover',
  kurrentdb: 'esdb',
  'kurrentdb+discover': 'esdb+discover',
};

/** The connection string in the form @eventstore/db-client parses. */
export function toClientConnectionString(url: string): string {
  const match = /^([a-z+]+):\/\//i.exec(url);
  const scheme = match ? SCHEMES[match[1]!.toLowerCase()] : undefined;
  if (!match || scheme === undefined) {
    throw new Error('expected an esdb://, esdb+discover://, kurrentdb:// or kurrentdb+discover:// URL');
  }
  return `${scheme}://${url.slice(match[0].length)}`;
}

/** The connection string without its password, for logs and messages. */
export function describeEventStoreUrl(url: string): string {
  return url.replace(/^([a-z+]+:\/\/)([^@/?#]*)@/i, (_all, scheme: string, userInfo: string) => {
    const user = userInfo.split(':')[0] ?? '';
    return user ? `${scheme}${user}@` : scheme;
  });
}

/** A client error message on one line, without gRPC's empty trailing notes. */
export function oneLine(message: string): string {
  return message
    .replace(/\s+/g, ' ')
    .replace(/\s*Resolution note:\s*$/, '')
    .trim();
}

/**
 * A client for `url` whose `dispose()` also closes its gRPC channels. (6.2.1's own `dispose()`
 * only cancels the open calls: the channel, its keep-alive and any connection attempt still in
 * progress would keep a process with a closed store alive.) This wraps the client's
 * `getChannel`, an instance method of 6.2.1 that the client calls for every channel it makes.
 */
export function createClient(url: string): EventStoreDBClient {
  const client = EventStoreDBClient.connectionString(toClientConnectionString(url));
  const internals = client as unknown as { getChannel?: () => Promise<{ close(): void }> };
  const getChannel = internals.getChannel;
  if (typeof getChannel !== 'function') return client;
  const channels = new Set<Promise<{ close(): void }>>();
  internals.getChannel = () => {
    const channel = getChannel();
    channels.add(channel);
    return channel;
  };
  const dispose = client.dispose;
  client.dispose = async () => {
    await dispose();
    for (const channel of channels) {
      (await channel.catch(() => undefined))?.close();
    }
    channels.clear();
  };
  return client;
}
