/** Prometheus metrics (prom-client), one registry per process, served by the API at /metrics. */

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { REFUSAL_REASONS } from '../../application/refusals.js';

export interface Metrics {
  readonly registry: Registry;
  readonly httpRequestSeconds: Histogram<'method' | 'route' | 'status'>;
  readonly eventsAppended: Counter<never>;
  readonly appendSeconds: Histogram<never>;
  readonly projectionEvents: Counter<'projection'>;
  readonly projectionBatchSeconds: Histogram<'projection'>;
  readonly projectionPosition: Gauge<'projection'>;
  readonly eventStoreHead: Gauge<never>;
  readonly signInBans: Counter<'scope'>;
  readonly signInRefusedWhileBanned: Counter<'scope'>;
  /** Sign-in holds: a failure's answer held, or an attempt that came before its address's hold ended. */
  readonly signInDelaySeconds: Histogram<'kind'>;
  /** Connections, requests, streams and writes refused by a limit, by which limit. */
  readonly refusals: Counter<'reason'>;
  /** Bytes read back at CLOSE to hash uploads written out of order or resumed. */
  readonly uploadReadBackBytes: Counter<never>;
  /** FTPS data connections, by whether they resumed the control connection's TLS session. */
  readonly ftpsDataConnections: Counter<'tls_resumed'>;
  /** Delivery attempts this process finished (flows, notifications, scans), by kind and outcome. */
  readonly deliveryAttempts: Counter<'kind' | 'outcome'>;
  /** Deliveries by state, as the deliveries view holds them (set at each scrape). */
  readonly deliveries: Gauge<'state'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sluice_process_' });
  return {
    registry,
    httpRequestSeconds: new Histogram({
      name: 'sluice_http_request_duration_seconds',
      help: 'HTTP requests by method, route template and status code',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    }),
    ftpsDataConnections: new Counter({
      name: 'sluice_ftps_data_connections_total',
      help: 'FTPS data connections; tls_resumed="true" when the client resumed the control connection TLS session',
      labelNames: ['tls_resumed'] as const,
      registers: [registry],
    }),
    deliveryAttempts: new Counter({
      name: 'sluice_delivery_attempts_total',
      help: 'Delivery attempts this process finished, by kind (flow, notification, scan) and outcome (succeeded, failed)',
      labelNames: ['kind', 'outcome'] as const,
      registers: [registry],
    }),
    deliveries: new Gauge({
      name: 'sluice_deliveries',
      help: 'Deliveries by state (scheduled, attempting, waiting, succeeded, dead: the dead letters)',
      labelNames: ['state'] as const,
      registers: [registry],
    }),
    signInBans: new Counter({
      name: 'sluice_signin_bans_total',
      help: 'Bans this process started (by address or user name)',
      labelNames: ['scope'] as const,
      registers: [registry],
    }),
    signInRefusedWhileBanned: new Counter({
      name: 'sluice_signin_refused_banned_total',
      help: 'Sign-in attempts this process refused because a ban held',
      labelNames: ['scope'] as const,
      registers: [registry],
    }),
    signInDelaySeconds: new Histogram({
      name: 'sluice_signin_delay_seconds',
      help: 'Sign-in holds this process applied: kind="failure" a failed attempt answered late, kind="early" an attempt held until its address may try again',
      labelNames: ['kind'] as const,
      buckets: [0.25, 0.5, 1, 2, 4, 8, 16, 32, 60],
      registers: [registry],
    }),
    eventsAppended: new Counter({
      name: 'sluice_events_appended_total',
      help: 'Events appended to the event store by this process',
      registers: [registry],
    }),
    appendSeconds: new Histogram({
      name: 'sluice_event_append_duration_seconds',
      help: 'Time for one durable append (one round trip and commit)',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers: [registry],
    }),
    projectionEvents: new Counter({
      name: 'sluice_projection_events_total',
      help: 'Events a projection has consumed (handled or passed over)',
      labelNames: ['projection'] as const,
      registers: [registry],
    }),
    projectionBatchSeconds: new Histogram({
      name: 'sluice_projection_batch_duration_seconds',
      help: 'Time for one projection batch transaction',
      labelNames: ['projection'] as const,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    projectionPosition: new Gauge({
      name: 'sluice_projection_position',
      help: 'Global position of the last event each projection has committed',
      labelNames: ['projection'] as const,
      registers: [registry],
    }),
    eventStoreHead: new Gauge({
      name: 'sluice_event_store_head_position',
      help: 'Global position of the newest event readers can see (projection lag = head - position)',
      registers: [registry],
    }),
    refusals: refusalCounter(registry),
    uploadReadBackBytes: new Counter({
      name: 'sluice_upload_read_back_bytes_total',
      help: 'Bytes read back from staged uploads at CLOSE to hash them (uploads written out of order or resumed; sequential ones are hashed as they stream)',
      registers: [registry],
    }),
  };
}

function refusalCounter(registry: Registry): Counter<'reason'> {
  const counter = new Counter({
    name: 'sluice_refusals_total',
    help: 'Connections, requests, streams and writes refused by a limit (reason: which limit)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  // Every reason appears from the start, at 0, so a rate can be taken before the first refusal.
  for (const reason of REFUSAL_REASONS) counter.inc({ reason }, 0);
  return counter;
}
