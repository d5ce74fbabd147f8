/**
 * Sign-in tickets (OpenWithTicket and OpenWithTicketEx share one format, docs/tickets.md).
 *
 * Plaintext (UTC, 24-hour; exactly one of these shapes, nothing else):
 * `<token timestamp="mm/dd/yyyy hh:mm:ss"><sitename>…</sitename><applicationid>N</applicationid>`
 * then `<username>…</username>` (OpenWithTicket) or
 * `<emailaddress>…</emailaddress><firstname>…</firstname><lastname>…</lastname>` (OpenWithTicketEx),
 * then `</token>`. Wire: base64url without padding of
 * `0x02 || nonce (12) || AES-256-GCM ciphertext || tag (16)`, key = HKDF-SHA256(secret,
 * salt "sluice-ticket", info "aes-256-gcm v1", 32 bytes), AAD = the version byte.
 *
 * This module only seals and opens tickets. Age, clock skew and site name are checked by
 * src/domain/sessions/ticket-rules.ts, replay by the event store (keyed on `digest`).
 * A TicketCodec is the sign-in service's TicketOpener.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { TicketClaims, TicketSubject } from '../../domain/sessions/ticket-rules.js';

export type { TicketClaims, TicketSubject };

/** Version 2 binds the application and the subject; version 1 tickets are refused. */
export const TICKET_VERSION = 0x02;
export const MIN_SECRET_LENGTH = 16;
/**
 * Longest accepted ticket text (the HTTP schema's limit too). Escaping only `&`, `<` and `>`,
 * as mint does, any claims within the field limits below fit (at most 5008 characters).
 */
export const MAX_TICKET_LENGTH = 8192;
export const MAX_USER_NAME_LENGTH = 254;
export const MAX_SITE_NAME_LENGTH = 255;
export const MAX_EMAIL_LENGTH = 254;
export const MAX_PERSON_NAME_LENGTH = 100;
const MAX_APPLICATION_ID = 2_147_483_647;

const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;
const HEADER_LENGTH = 1 + NONCE_LENGTH;
const KDF_SALT = 'sluice-ticket';
const KDF_INFO = 'aes-256-gcm v1';
/** The shortest plaintext that can parse: empty site name, application 1, one-character user name. */
const MIN_PLAINTEXT_LENGTH =
  '<token timestamp="01/01/1970 00:00:00"><sitename></sitename><applicationid>1</applicationid><username>a</username></token>'
    .length;

export type TicketErrorReason = 'ticket-malformed' | 'ticket-wrong-key';

/** A ticket that cannot be opened. `reason` is the problem type; `message` is for logs only. */
export class TicketError extends Error {
  override readonly name = 'TicketError';
  constructor(
    readonly reason: TicketErrorReason,
    message: string,
  ) {
    super(`${reason}: ${message}`);
  }
}

function malformed(message: string): TicketError {
  return new TicketError('ticket-malformed', message);
}

/** SHA-256 (lower-case hex) of the ticket text: the replay-protection key. */
export function ticketDigest(ticket: string): string {
  return createHash('sha256').update(ticket, 'utf8').digest('hex');
}

/** HKDF-SHA256(ikm = UTF-8 secret, salt = "sluice-ticket", info = "aes-256-gcm v1", 32 bytes). */
function deriveTicketKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), KDF_SALT, KDF_INFO, 32));
}

export class TicketCodec {
  readonly #key: Buffer;

  constructor(secret: string) {
    if (typeof secret !== 'string' || codePointLength(secret) < MIN_SECRET_LENGTH) {
      throw new Error(`the ticket secret must be at least ${MIN_SECRET_LENGTH} characters long`);
    }
    this.#key = deriveTicketKey(secret);
  }

  /** Seals claims into a ticket. Throws RangeError for claims no ticket could carry. */
  mint(claims: {
    timestamp: Date;
    siteName?: string;
    applicationId: number;
    subject: TicketSubject;
  }): string {
    const siteName = claims.siteName ?? '';
    checkField('siteName', siteName, 0, MAX_SITE_NAME_LENGTH);
    const { applicationId, subject } = claims;
    if (!Number.isSafeInteger(applicationId) || applicationId < 1 || applicationId > MAX_APPLICATION_ID)
      throw new RangeError(`applicationId must be an integer from 1 to ${MAX_APPLICATION_ID}`);
    let who: string;
    if (subject.kind === 'user') {
      checkField('userName', subject.userName, 1, MAX_USER_NAME_LENGTH);
      who = `<username>${escapeXml(subject.userName)}</username>`;
    } else {
      checkField('emailAddress', subject.emailAddress, 3, MAX_EMAIL_LENGTH);
      checkField('firstName', subject.firstName, 0, MAX_PERSON_NAME_LENGTH);
      checkField('lastName', subject.lastName, 0, MAX_PERSON_NAME_LENGTH);
      who =
        `<emailaddress>${escapeXml(subject.emailAddress)}</emailaddress>` +
        `<firstname>${escapeXml(subject.firstName)}</firstname>` +
        `<lastname>${escapeXml(subject.lastName)}</lastname>`;
    }
    const plaintext =
      `<token timestamp="${formatTimestamp(claims.timestamp)}">` +
      `<sitename>${escapeXml(siteName)}</sitename>` +
      `<applicationid>${applicationId}</applicationid>${who}</token>`;
    const version = Buffer.of(TICKET_VERSION);
    const nonce = randomBytes(NONCE_LENGTH);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce, { authTagLength: TAG_LENGTH });
    cipher.setAAD(version);
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([version, nonce, ciphertext, cipher.getAuthTag()]).toString('base64url');
  }

  /** SHA-256 hex of the ticket text (the replay key); the same as ticketDigest. */
  digest(ticket: string): string {
    return ticketDigest(ticket);
  }

  /** Opens a ticket. Throws TicketError (`ticket-malformed` or `ticket-wrong-key`). */
  open(ticket: string): TicketClaims {
    if (typeof ticket !== 'string' || ticket.length === 0) throw malformed('empty');
    if (ticket.length > MAX_TICKET_LENGTH) throw malformed('too long');
    if (!/^[A-Za-z0-9_-]+$/.test(ticket)) throw malformed('not base64url');
    const sealed = Buffer.from(ticket, 'base64url');
    // Rejects impossible lengths and non-zero padding bits: one ticket, one spelling.
    if (sealed.toString('base64url') !== ticket) throw malformed('not canonical base64url');
    if (sealed.length < HEADER_LENGTH + MIN_PLAINTEXT_LENGTH + TAG_LENGTH) throw malformed('too short');
    if (sealed[0] !== TICKET_VERSION) throw malformed('unknown version');

    const nonce = sealed.subarray(1, HEADER_LENGTH);
    const ciphertext = sealed.subarray(HEADER_LENGTH, sealed.length - TAG_LENGTH);
    const tag = sealed.subarray(sealed.length - TAG_LENGTH);
    const decipher = createDecipheriv('aes-256-gcm', this.#key, nonce, { authTagLength: TAG_LENGTH });
    decipher.setAAD(sealed.subarray(0, 1));
    decipher.setAuthTag(tag);
    let plaintext: Buffer;
    try {
      plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    } catch {
      throw new TicketError('ticket-wrong-key', 'authentication failed');
    }
    return parseToken(plaintext);
  }
}

// ---------------------------------------------------------------------------------------------
// Plaintext: a hand-written parser for the one fixed shape. No XML library, no DTD, no entities
// beyond the five predefined ones, no numeric character references, no whitespace between tags.

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const ENTITIES: ReadonlyMap<string, string> = new Map([
  ['&amp;', '&'],
  ['&lt;', '<'],
  ['&gt;', '>'],
  ['&quot;', '"'],
  ['&apos;', "'"],
]);

function parseToken(bytes: Buffer): TicketClaims {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw malformed('plaintext is not UTF-8');
  }
  let pos = 0;
  const expect = (literal: string): void => {
    if (!text.startsWith(literal, pos)) throw malformed(`expected ${literal}`);
    pos += literal.length;
  };
  const element = (name: string, min: number, max: number): string => {
    expect(`<${name}>`);
    const end = text.indexOf('<', pos);
    if (end < 0) throw malformed(`unterminated <${name}>`);
    const value = unescapeText(text.slice(pos, end), name);
    pos = end;
    expect(`</${name}>`);
    const length = codePointLength(value);
    if (length < min || length > max) throw malformed(`${name} must be ${min}–${max} characters`);
    return value;
  };

  expect('<token timestamp="');
  const timestamp = parseTimestamp(text.slice(pos, pos + 19));
  pos += 19;
  expect('">');
  const siteName = element('sitename', 0, MAX_SITE_NAME_LENGTH);
  const applicationText = element('applicationid', 1, 10);
  const applicationId = Number(applicationText);
  if (!/^[1-9][0-9]*$/.test(applicationText) || applicationId > MAX_APPLICATION_ID)
    throw malformed(`applicationid must be an integer from 1 to ${MAX_APPLICATION_ID}`);
  let subject: TicketSubject;
  if (text.startsWith('<username>', pos)) {
    subject = { kind: 'user', userName: element('username', 1, MAX_USER_NAME_LENGTH) };
  } else {
    const emailAddress = element('emailaddress', 3, MAX_EMAIL_LENGTH);
    const firstName = element('firstname', 0, MAX_PERSON_NAME_LENGTH);
    const lastName = element('lastname', 0, MAX_PERSON_NAME_LENGTH);
    subject = { kind: 'email', emailAddress, firstName, lastName };
  }
  expect('</token>');
  if (pos !== text.length) throw malformed('content after </token>');
  return { timestamp, siteName, applicationId, subject };
}

function unescapeText(raw: string, field: string): string {
  if (raw.includes(']]>')) throw malformed(`${field} contains ]]>`);
  let out = '';
  let i = 0;
  while (i < raw.length) {
    const amp = raw.indexOf('&', i);
    if (amp < 0) {
      out += raw.slice(i);
      break;
    }
    out += raw.slice(i, amp);
    const semi = raw.indexOf(';', amp);
    const entity = semi < 0 ? undefined : ENTITIES.get(raw.slice(amp, semi + 1));
    if (entity === undefined) throw malformed(`${field} contains an unsupported reference`);
    out += entity;
    i = semi + 1;
  }
  if (!isPlainText(out)) throw malformed(`${field} contains a control or non-XML character`);
  return out;
}

/** No C0/C1 control characters (tab and newline included), DEL, lone surrogates, U+FFFE/U+FFFF. */
function isPlainText(value: string): boolean {
  for (const char of value) {
    const c = char.codePointAt(0) ?? 0;
    if (
      c < 0x20 ||
      (c >= 0x7f && c <= 0x9f) ||
      (c >= 0xd800 && c <= 0xdfff) ||
      c === 0xfffe ||
      c === 0xffff
    ) {
      return false;
    }
  }
  return true;
}

const TIMESTAMP = /^(\d{2})\/(\d{2})\/(\d{4}) (\d{2}):(\d{2}):(\d{2})$/;

function parseTimestamp(value: string): Date {
  const match = TIMESTAMP.exec(value);
  if (!match) throw malformed('timestamp is not mm/dd/yyyy hh:mm:ss');
  const [month, day, year, hour, minute, second] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  const valid =
    year >= 1970 &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day;
  if (!valid) throw malformed('timestamp is not a valid date and time');
  return date;
}

// ---------------------------------------------------------------------------------------------
// Minting helpers.

function formatTimestamp(date: Date): string {
  const time = date instanceof Date ? date.getTime() : Number.NaN;
  if (!Number.isFinite(time)) throw new RangeError('timestamp is not a valid Date');
  const year = date.getUTCFullYear();
  if (year < 1970 || year > 9999) throw new RangeError('timestamp must be between the years 1970 and 9999');
  const two = (n: number): string => String(n).padStart(2, '0');
  return (
    `${two(date.getUTCMonth() + 1)}/${two(date.getUTCDate())}/${year} ` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}`
  );
}

function checkField(name: string, value: string, min: number, max: number): void {
  if (typeof value !== 'string') throw new RangeError(`${name} must be a string`);
  const length = codePointLength(value);
  if (length < min || length > max) throw new RangeError(`${name} must be ${min}–${max} characters`);
  if (!isPlainText(value)) throw new RangeError(`${name} must not contain control or non-XML characters`);
}

/** Element text needs only these three; quotes stay literal, keeping the worst case short. */
function escapeXml(value: string): string {
  return value.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function codePointLength(value: string): number {
  let n = 0;
  for (const _ of value) n++;
  return n;
}
