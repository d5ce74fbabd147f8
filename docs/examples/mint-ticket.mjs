#!/usr/bin/env node
// Mint a Sluice sign-in ticket, format version 2 (docs/tickets.md). Plain Node 20, no dependencies.
// Usage:
//   MFT_TICKET_SECRET=... node mint-ticket.mjs <applicationId> <userName> [siteName]
//       a ticket for OpenWithTicket (an existing user, by user name)
//   MFT_TICKET_SECRET=... node mint-ticket.mjs <applicationId> --email <emailAddress> <firstName> <lastName> [siteName]
//       a ticket for OpenWithTicketEx (the call must repeat the same e-mail address and names;
//       pass "" for an empty name)
// Prints only the ticket; a usage error is one line on stderr and exit status 2.
import { createCipheriv, hkdfSync, randomBytes } from 'node:crypto';

const USAGE =
  'usage: MFT_TICKET_SECRET=... node mint-ticket.mjs <applicationId> <userName> [siteName]' +
  ' | <applicationId> --email <emailAddress> <firstName> <lastName> [siteName]';

// Escape "&" first. Quotes need no escaping in element text.
const escapeXml = (text) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

function seal(secret, plaintext) {
  const key = Buffer.from(
    hkdfSync('sha256', Buffer.from(secret, 'utf8'), 'sluice-ticket', 'aes-256-gcm v1', 32),
  );
  const version = Buffer.of(0x02);
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(version);
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([version, nonce, ciphertext, cipher.getAuthTag()]).toString('base64url');
}

function token(applicationId, subject, siteName, now) {
  const two = (n) => String(n).padStart(2, '0');
  const timestamp =
    `${two(now.getUTCMonth() + 1)}/${two(now.getUTCDate())}/${now.getUTCFullYear()} ` +
    `${two(now.getUTCHours())}:${two(now.getUTCMinutes())}:${two(now.getUTCSeconds())}`;
  return (
    `<token timestamp="${timestamp}"><sitename>${escapeXml(siteName)}</sitename>` +
    `<applicationid>${applicationId}</applicationid>${subject}</token>`
  );
}

/** A ticket for OpenWithTicket. */
function mintTicket(secret, applicationId, userName, siteName = '', now = new Date()) {
  const subject = `<username>${escapeXml(userName)}</username>`;
  return seal(secret, token(applicationId, subject, siteName, now));
}

/** A ticket for OpenWithTicketEx. */
function mintTicketEx(
  secret,
  applicationId,
  emailAddress,
  firstName,
  lastName,
  siteName = '',
  now = new Date(),
) {
  const subject =
    `<emailaddress>${escapeXml(emailAddress)}</emailaddress>` +
    `<firstname>${escapeXml(firstName)}</firstname><lastname>${escapeXml(lastName)}</lastname>`;
  return seal(secret, token(applicationId, subject, siteName, now));
}

function fail(message) {
  console.error(message);
  process.exit(2);
}

const args = process.argv.slice(2);
const email = args[1] === '--email';
if (!(email ? [5, 6] : [2, 3]).includes(args.length)) fail(USAGE);
if (!/^[1-9][0-9]{0,9}$/.test(args[0]) || Number(args[0]) > 2147483647)
  fail(`applicationId must be an integer from 1 to 2147483647; ${USAGE}`);
const secret = process.env.MFT_TICKET_SECRET ?? '';
if ([...secret].length < 16) fail('MFT_TICKET_SECRET must be set to at least 16 characters');
const applicationId = Number(args[0]);
console.log(
  email
    ? mintTicketEx(secret, applicationId, ...args.slice(2))
    : mintTicket(secret, applicationId, ...args.slice(1)),
);
