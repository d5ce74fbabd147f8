import type { Migration } from 'kysely';
import * as m0001 from './0001_events.js';

/** The event store's migrations, applied in key order. Append new files; never edit applied ones. */
export const eventStoreMigrations: Record<string, Migration> = {
  '0001_events': m0001,
};
