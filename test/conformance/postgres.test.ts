/**
 * The EventStore conformance suite against PostgresEventStore on a fresh embedded database.
 *
 * To show that the suite's no-skip tests catch a reader that pages by position alone, run it
 * once against the naive reader (expect the no-skip and late-commit tests to fail):
 *
 *   SLUICE_CONFORMANCE_NAIVE_READS=1 npm test -- test/conformance/postgres.test.ts
 *
 * test/conformance/naive-reader.test.ts keeps a deterministic version of that proof in `npm test`.
 */
import { describeEventStoreConformance } from './event-store.conformance.js';
import { postgresEventStoreFactory } from './postgres-factory.js';

const naive = process.env.SLUICE_CONFORMANCE_NAIVE_READS === '1';

describeEventStoreConformance(
  naive ? 'PostgreSQL (UNSAFE naive reads)' : 'PostgreSQL',
  postgresEventStoreFactory({ unsafeNaiveReads: naive }),
);
