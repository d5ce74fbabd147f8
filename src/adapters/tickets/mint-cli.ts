/**
 * `npm run --silent mint-ticket -- --user <name> [--site <site>] [--timestamp <ISO 8601>]`
 * Mints a sign-in ticket with the secret in MFT_TICKET_SECRET and prints only the ticket.
 * Any error: one line on stderr, exit status 2.
 */
import { parseArgs } from 'node:util';
import { MIN_SECRET_LENGTH, TicketCodec } from './ticket-codec.js';

const USAGE = 'usage: mint-ticket --user <name> [--site <site>] [--timestamp <ISO 8601>]';

function fail(message: string): never {
  process.stderr.write(`mint-ticket: ${message}\n`);
  process.exit(2);
}

function main(): void {
  let values: { user?: string | undefined; site?: string | undefined; timestamp?: string | undefined };
  try {
    ({ values } = parseArgs({
      options: {
        user: { type: 'string' },
        site: { type: 'string' },
        timestamp: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    fail(`${error instanceof Error ? error.message : String(error)}; ${USAGE}`);
  }
  if (values.user === undefined) fail(`--user is required; ${USAGE}`);

  const secret = process.env.MFT_TICKET_SECRET ?? '';
  if (secret === '') fail('MFT_TICKET_SECRET is not set');
  if ([...secret].length < MIN_SECRET_LENGTH) {
    fail(`MFT_TICKET_SECRET must be at least ${MIN_SECRET_LENGTH} characters long`);
  }

  let timestamp = new Date();
  if (values.timestamp !== undefined) {
    timestamp = new Date(values.timestamp);
    if (Number.isNaN(timestamp.getTime())) fail(`--timestamp is not an ISO 8601 date: ${values.timestamp}`);
  }

  try {
    const ticket = new TicketCodec(secret).mint({ userName: values.user, siteName: values.site, timestamp });
    process.stdout.write(`${ticket}\n`);
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
}

main();
