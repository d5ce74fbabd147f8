/**
 * Connections of every protocol as facts: an authenticated connection's opening and closing
 * (ConnectionOpened, ConnectionClosed on its own stream), and the connections that ended
 * before signing in, counted per source address and summed periodically into
 * ConnectionAttemptsSummarized events.
 *
 * The pre-authentication counts live in this process until the next summary (and are
 * summarized at shutdown): a crash loses at most one period of counts, never a sign-in
 * attempt, which is recorded one by one as SignInFailed.
 */
import type { EventStore } from '../domain/event-store.js';
import { type EventOfType, toNewEvent } from '../domain/events/catalogue.js';
import { connectionAttemptsStream, connectionStream } from '../domain/events/file-events.js';
import { metadataFor, systemMetadata } from './metadata.js';
import type { Clock, IdGenerator, RequestContext } from './ports.js';

type OpenedData = EventOfType<'ConnectionOpened'>['data'];
type ClosedData = EventOfType<'ConnectionClosed'>['data'];
type Protocol = OpenedData['protocol'];
export type AttemptOutcome = keyof EventOfType<'ConnectionAttemptsSummarized'>['data']['outcomes'];

export interface ConnectionsDeps {
  readonly store: EventStore;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  /** Addresses with a summary row of their own per period; the rest share one row. */
  readonly maxAddressesPerSummary?: number;
}

/** An authenticated connection whose opening is recorded. */
export interface OpenConnection {
  /** Records the end; the duration is counted from the opening. */
  closed(end: Pick<ClosedData, 'reason' | 'bytesIn' | 'bytesOut'>): Promise<void>;
}

interface Tally {
  count: number;
  outcomes: Record<AttemptOutcome, number>;
}

export class Connections {
  /** Unauthenticated ends since the last summary, by protocol then address. */
  private tallies = new Map<Protocol, Map<string, Tally>>();
  private since: Date;

  constructor(private readonly deps: ConnectionsDeps) {
    this.since = deps.clock.now();
  }

  /** Records an authenticated connection's opening (durable before the connection is served). */
  async opened(data: OpenedData, context: RequestContext): Promise<OpenConnection> {
    const stream = connectionStream(data.connectionId);
    const openedAt = this.deps.clock.now().getTime();
    await this.deps.store.appendToStream(
      stream,
      [toNewEvent({ type: 'ConnectionOpened', data }, metadataFor(context))],
      {
        expectedRevision: 'no_stream',
      },
    );
    return {
      closed: async (end) => {
        await this.deps.store.appendToStream(
          stream,
          [
            toNewEvent(
              {
                type: 'ConnectionClosed',
                data: {
                  connectionId: data.connectionId,
                  protocol: data.protocol,
                  sessionId: data.sessionId,
                  userId: data.userId,
                  ...end,
                  durationMs: Math.max(0, this.deps.clock.now().getTime() - openedAt),
                },
              },
              metadataFor(context),
            ),
          ],
          { expectedRevision: 0 },
        );
      },
    };
  }

  /** Records a signed-in connection refused before it served anything (the refusal holds either way). */
  async refused(data: EventOfType<'ConnectionRefused'>['data'], context: RequestContext): Promise<void> {
    await this.deps.store.appendToStream(
      connectionStream(data.connectionId),
      [toNewEvent({ type: 'ConnectionRefused', data }, metadataFor(context))],
      { expectedRevision: 'no_stream' },
    );
  }

  /** Counts a connection that ended before its client signed in (no I/O). */
  endedUnauthenticated(protocol: Protocol, address: string, outcome: AttemptOutcome): void {
    const byAddress = this.addresses(protocol);
    const tally = byAddress.get(address) ?? emptyTally();
    byAddress.set(address, tally);
    tally.count++;
    tally.outcomes[outcome]++;
  }

  /**
   * Records the counts since the last summary: one event per busy address, one for the rest;
   * resolves with how many events.
   */
  async summarize(): Promise<number> {
    const from = this.since;
    const to = this.deps.clock.now();
    const tallies = this.tallies;
    this.tallies = new Map();
    this.since = to;
    const cap = this.deps.maxAddressesPerSummary ?? 100;
    let events = 0;
    for (const [protocol, byAddress] of tallies) {
      const busiest = [...byAddress].sort((a, b) => b[1].count - a[1].count);
      const rows = busiest.slice(0, cap).map((entry) => [entry]);
      if (busiest.length > cap) rows.push(busiest.slice(cap));
      for (const [i, row] of rows.entries()) {
        const tally = sum(row.map(([, t]) => t));
        try {
          await this.append({
            protocol,
            remoteAddress: row.length === 1 ? (row[0]?.[0] ?? null) : null,
            addresses: row.length,
            count: tally.count,
            outcomes: tally.outcomes,
            from: from.toISOString(),
            to: to.toISOString(),
          });
        } catch (error) {
          // Not recorded: the counts wait for the next summary.
          for (const [address, t] of rows.slice(i).flat()) this.restore(protocol, address, t);
          this.since = from;
          throw error;
        }
        events++;
      }
    }
    return events;
  }

  private restore(protocol: Protocol, address: string, tally: Tally): void {
    const byAddress = this.addresses(protocol);
    byAddress.set(address, sum([tally, byAddress.get(address) ?? emptyTally()]));
  }

  private addresses(protocol: Protocol): Map<string, Tally> {
    const byAddress = this.tallies.get(protocol) ?? new Map<string, Tally>();
    this.tallies.set(protocol, byAddress);
    return byAddress;
  }

  private async append(data: EventOfType<'ConnectionAttemptsSummarized'>['data']): Promise<void> {
    await this.deps.store.appendToStream(
      connectionAttemptsStream(this.deps.ids.uuid()),
      [toNewEvent({ type: 'ConnectionAttemptsSummarized', data }, systemMetadata(this.deps.ids))],
      { expectedRevision: 'no_stream' },
    );
  }
}

const emptyTally = (): Tally => ({ count: 0, outcomes: { timeout: 0, refused: 0, closed: 0 } });

function sum(tallies: Tally[]): Tally {
  const total = emptyTally();
  for (const t of tallies) {
    total.count += t.count;
    total.outcomes.timeout += t.outcomes.timeout;
    total.outcomes.refused += t.outcomes.refused;
    total.outcomes.closed += t.outcomes.closed;
  }
  return total;
}
