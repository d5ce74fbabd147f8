/**
 * RFC 5424 syslog messages, formatted purely (no clock, no I/O), and RFC 6587 octet-counting
 * framing for TCP and TLS (RFC 5425).
 *
 * `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [sluice@32473 k="v" …] BOM MSG`
 *
 * - Header fields are printable US-ASCII (33–126) within the RFC's lengths (HOSTNAME 255,
 *   APP-NAME 48, PROCID 128, MSGID 32); an empty one is the NILVALUE `-`. Anything else is
 *   refused (`bad-message`), never silently changed: MSGID is what receivers filter on.
 * - Structured data is one element, SD-ID `sluice@32473` (32473 is the private enterprise
 *   number RFC 5612 reserves for documentation; a deployment with its own number can change
 *   the SD-ID). PARAM-NAMEs are 1–32 printable ASCII characters but `=`, space, `]` and `"`;
 *   in PARAM-VALUEs `"`, `\` and `]` are escaped with a backslash (RFC 5424 §6.3.3). No
 *   parameters: the NILVALUE.
 * - MSG, when not empty, is UTF-8 and so starts with the BOM (EF BB BF, §6.4); an empty MSG
 *   is left out, with the space before it.
 * - The whole message is at most `maxBytes` octets (default 8192: what RFC 5425 says TLS
 *   receivers SHOULD accept; rsyslog's default limit is 8 k too). A longer MSG is cut at a
 *   character boundary; a header and structured data that alone exceed it are refused.
 */
import { NotificationError } from './notification-error.js';

export const SD_ID = 'sluice@32473';
export const DEFAULT_MAX_BYTES = 8192;
const NILVALUE = '-';
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

export const FACILITIES = {
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  ftp: 11,
  ntp: 12,
  audit: 13,
  alert: 14,
  clock: 15,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
} as const;

export const SEVERITIES = {
  emerg: 0,
  alert: 1,
  crit: 2,
  err: 3,
  warning: 4,
  notice: 5,
  info: 6,
  debug: 7,
} as const;

export type Facility = keyof typeof FACILITIES | number;
export type Severity = keyof typeof SEVERITIES | number;

export interface SyslogMessage {
  readonly facility: Facility;
  readonly severity: Severity;
  readonly timestamp: Date;
  readonly hostname: string;
  readonly appName: string;
  readonly procId?: string;
  readonly msgId: string;
  /** The parameters of the `sluice@32473` element, in this order. */
  readonly structuredData: Readonly<Record<string, string>>;
  readonly message: string;
}

function bad(message: string): NotificationError {
  return new NotificationError('bad-message', false, `syslog: ${message}`);
}

function code(value: Facility | Severity, names: Record<string, number>, max: number, what: string): number {
  const n = typeof value === 'number' ? value : names[value];
  if (n === undefined || !Number.isInteger(n) || n < 0 || n > max)
    throw bad(`${what} ${JSON.stringify(value)}`);
  return n;
}

const PRINTUSASCII = /^[\x21-\x7e]*$/;

/** A header field: printable ASCII within `max` characters, `-` when empty. */
function headerField(value: string, max: number, what: string): string {
  if (!PRINTUSASCII.test(value) || value.length > max) {
    throw bad(`${what} must be at most ${max} printable ASCII characters, not ${JSON.stringify(value)}`);
  }
  return value === '' ? NILVALUE : value;
}

function timestampField(date: Date): string {
  const iso = Number.isNaN(date.getTime()) ? '' : date.toISOString();
  // toISOString gives 6-digit signed years outside 0000–9999; RFC 5424 has 4-digit years only.
  if (!/^\d{4}-/.test(iso)) throw bad(`timestamp ${String(date)} is not representable`);
  return iso;
}

const PARAM_NAME = /^[\x21-\x7e]{1,32}$/;

function structuredDataField(params: Readonly<Record<string, string>>): string {
  const entries = Object.entries(params);
  if (entries.length === 0) return NILVALUE;
  const parts = entries.map(([name, value]) => {
    if (!PARAM_NAME.test(name) || /[= \]"]/.test(name))
      throw bad(`structured data name ${JSON.stringify(name)}`);
    if (typeof value !== 'string') throw bad(`structured data ${name} is not a string`);
    return ` ${name}="${value.replace(/["\\\]]/g, '\\$&')}"`;
  });
  return `[${SD_ID}${parts.join('')}]`;
}

/** The longest prefix of `text` that is at most `bytes` octets of UTF-8, never half a character. */
function utf8Prefix(text: string, bytes: number): Buffer {
  const encoded = Buffer.from(text, 'utf8');
  if (encoded.length <= bytes) return encoded;
  let end = bytes;
  // Back off continuation bytes (10xxxxxx) so the cut falls before a character's first byte.
  while (end > 0 && (encoded[end]! & 0xc0) === 0x80) end--;
  return encoded.subarray(0, end);
}

/** The message's octets (without framing). Throws a non-retryable NotificationError for bad input. */
export function formatSyslog5424(input: SyslogMessage, maxBytes = DEFAULT_MAX_BYTES): Buffer {
  const pri =
    code(input.facility, FACILITIES, 23, 'facility') * 8 + code(input.severity, SEVERITIES, 7, 'severity');
  const head = [
    `<${pri}>1`,
    timestampField(input.timestamp),
    headerField(input.hostname, 255, 'hostname'),
    headerField(input.appName, 48, 'app name'),
    headerField(input.procId ?? '', 128, 'proc id'),
    headerField(input.msgId, 32, 'msg id'),
    structuredDataField(input.structuredData),
  ].join(' ');
  const header = Buffer.from(head, 'utf8');
  if (header.length > maxBytes) {
    throw bad(`header and structured data take ${header.length} octets, more than the ${maxBytes} allowed`);
  }
  if (input.message === '') return header;
  const room = maxBytes - header.length - 1 - BOM.length;
  if (room <= 0) return header;
  return Buffer.concat([header, Buffer.from(' '), BOM, utf8Prefix(input.message, room)]);
}

/** RFC 6587 octet counting: `<length> <message>`, the length in decimal octets. */
export function frameOctetCounting(message: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${message.length} `), message]);
}
