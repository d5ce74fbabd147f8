/**
 * `npm run --silent mint-ticket -- --application <id> (--user <name> | --email <address>
 *  [--first-name <name>] [--last-name <name>]) [--site <site>] [--timestamp <ISO 8601>]`
 * Mints a sign-in ticket with the secret in MFT_TICKET_SECRET and prints only the ticket:
 * `--user` for OpenWithTicket, `--email` (and names) for OpenWithTicketEx.
 * Any error: one line on stderr, exit status 2.
 */
import { parseArgs } from 'node:util';
import { MIN_SECRET_LENGTH, TicketCodec, type TicketSubject } from '../adapters/tickets/ticket-codec.js';

const USAGE =
  'usage: mint-ticket --application <id> (--user <name> | --email <address> [--first-name <name>] [--last-name <name>]) [--site <site>] [--timestamp <ISO 8601>]';

/** One line whatever the message (parseArgs's own messages span several; values may hold newlines). */
function fail(message: string): never {
  process.stderr.write(`mint-ticket: ${message.replace(/\s*[\r\n]+\s*/g, ' ')}\n`);
  process.exit(2);
}

function main(): void {
  let values: Partial<
    Record<'application' | 'user' | 'email' | 'first-name' | 'last-name' | 'site' | 'timestamp', string>
  >;
  try {
    ({ values } = parseArgs({
      options: {
        application: { type: 'string' },
        user: { type: 'string' },
        email: { type: 'string' },
        'first-name': { type: 'string' },
        'last-name': { type: 'string' },
        site: { type: 'string' },
        timestamp: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    fail(`${error instanceof Error ? error.message : String(error)}; ${USAGE}`);
  }
  if (values.application === undefined) fail(`--application is required; ${USAGE}`);
  if (!/^[1-9][0-9]{0,9}$/.test(values.application)) fail(`--application is not an application id; ${USAGE}`);
  if ((values.user === undefined) === (values.email === undefined))
    fail(`give exactly one of --user and --email; ${USAGE}`);
  if (values.user !== undefined && (values['first-name'] !== undefined || values['last-name'] !== undefined))
    fail(`--first-name and --last-name go with --email; ${USAGE}`);

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

  const subject: TicketSubject =
    values.user !== undefined
      ? { kind: 'user', userName: values.user }
      : {
          kind: 'email',
          emailAddress: values.email ?? '',
          firstName: values['first-name'] ?? '',
          lastName: values['last-name'] ?? '',
        };
  try {
    const ticket = new TicketCodec(secret).mint({
      applicationId: Number(values.application),
      subject,
      siteName: values.site,
      timestamp,
    });
    process.stdout.write(`${ticket}\n`);
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
}

main();
