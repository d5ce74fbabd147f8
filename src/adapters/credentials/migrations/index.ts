import type { Migration } from 'kysely';
import * as m0001 from './0001_user_credentials.js';
import * as m0002 from './0002_session_tokens.js';
import * as m0003 from './0003_signin_defender.js';
import * as m0004 from './0004_session_token_use.js';
import * as m0005 from './0005_signin_delays.js';
import * as m0006 from './0006_connection_leases.js';
import * as m0007 from './0007_signin_summaries_pending.js';
import * as m0008 from './0008_signin_failure_budget.js';
import * as m0009 from './0009_reaction_secrets.js';

/** The credential store's migrations, applied in key order. Append new files; never edit applied ones. */
export const credentialMigrations: Record<string, Migration> = {
  '0001_user_credentials': m0001,
  '0002_session_tokens': m0002,
  '0003_signin_defender': m0003,
  '0004_session_token_use': m0004,
  '0005_signin_delays': m0005,
  '0006_connection_leases': m0006,
  '0007_signin_summaries_pending': m0007,
  '0008_signin_failure_budget': m0008,
  '0009_reaction_secrets': m0009,
};
