#!/usr/bin/env node
// Mint a Sluice sign-in ticket (format: docs/tickets.md). Plain Node 20, no dependencies.
// Usage: MFT_TICKET_SECRET=... node mint-ticket.mjs <userName> [siteName]
import { createCipheriv, hkdfSync, randomBytes } from 'node:crypto';

// Escape "&" first. Quotes need no escaping in element text.
const escapeXml = (text) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

function mintTicket(secret, userName, siteName = '', now = new Date()) {
  const two = (n) => String(n).padStart(2, '0');
  const timestamp =
    `${two(now.getUTCMonth() + 1)}/${two(now.getUTCDate())}/${now.getUTCFullYear()} ` +
    `${two(now.getUTCHours())}:${two(now.getUTCMinutes())}:${two(now.getUTCSeconds())}`;
  const plaintext =
    `<token timestamp="${timestamp}"><sitename>${escapeXml(siteName)}</sitename>` +
    `<username>${escapeXml(userName)}</username></token>`;
  const key = Buffer.from(
    hkdfSync('sha256', Buffer.from(secret, 'utf8'), 'sluice-ticket', 'aes-256-gcm v1', 32),
  );
  const version = Buffer.of(0x01);
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(version);
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([version, nonce, ciphertext, cipher.getAuthTag()]).toString('base64url');
}

const [userName, siteName = ''] = process.argv.slice(2);
const secret = process.env.MFT_TICKET_SECRET ?? '';
if (userName === undefined || process.argv.length > 4) {
  console.error('usage: MFT_TICKET_SECRET=... node mint-ticket.mjs <userName> [siteName]');
  process.exit(2);
}
if ([...secret].length < 16) {
  console.error('MFT_TICKET_SECRET must be set to at least 16 characters');
  process.exit(2);
}
console.log(mintTicket(secret, userName, siteName));
