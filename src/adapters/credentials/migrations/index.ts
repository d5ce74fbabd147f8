import type { Migration } from 'kysely';
import * as m0001 from './0001_user_credentials.js';

/** The credential store's migrations, applied in key order. Append new files; never edit applied ones. */
export const credentialMigrations: Record<string, Migration> = {
  '0001_user_credentials': m0001,
};
