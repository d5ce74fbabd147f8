/**
 * The ticket format, version 2 (docs/tickets.md): TicketCodec round trips of both shapes
 * (OpenWithTicket's user name, OpenWithTicketEx's e-mail address and names), the documented
 * vectors, the examples and the CLI produce tickets the codec opens, and every damaged, hostile
 * or version 1 ticket is refused with `ticket-malformed` or `ticket-wrong-key`, never accepted
 * and never a crash.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { hkdfSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  MAX_EMAIL_LENGTH,
  MAX_PERSON_NAME_LENGTH,
  MAX_SITE_NAME_LENGTH,
  MAX_TICKET_LENGTH,
  MAX_USER_NAME_LENGTH,
  type TicketClaims,
  TicketCodec,
  TicketError,
  type TicketErrorReason,
  type TicketSubject,
  ticketDigest,
} from '../../src/adapters/tickets/ticket-codec.js';
import type { TicketOpener } from '../../src/application/sign-in.js';
import { seal, sealBytes, unseal } from './seal.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SECRET = 'test-ticket-secret-0123456789';
const codec = new TicketCodec(SECRET);
const AT = new Date('2026-03-04T05:06:07Z');
const TS = '03/04/2026 05:06:07';
const APP = 1000;

interface Head {
  ts?: string;
  site?: string;
  /** The raw text of <applicationid>. */
  app?: string;
}

/** An OpenWithTicket plaintext; every part raw (already escaped), so tests can spoil it. */
function token(body: Head & { user?: string } = {}): string {
  return (
    `<token timestamp="${body.ts ?? TS}"><sitename>${body.site ?? 'site'}</sitename>` +
    `<applicationid>${body.app ?? APP}</applicationid><username>${body.user ?? 'alice'}</username></token>`
  );
}

/** An OpenWithTicketEx plaintext; every part raw. */
function exToken(body: Head & { email?: string; first?: string; last?: string } = {}): string {
  return (
    `<token timestamp="${body.ts ?? TS}"><sitename>${body.site ?? 'site'}</sitename>` +
    `<applicationid>${body.app ?? APP}</applicationid>` +
    `<emailaddress>${body.email ?? 'jane@example.com'}</emailaddress>` +
    `<firstname>${body.first ?? 'Jane'}</firstname><lastname>${body.last ?? 'Doe'}</lastname></token>`
  );
}

const user = (userName: string): TicketSubject => ({ kind: 'user', userName });
const person = (emailAddress: string, firstName: string, lastName: string): TicketSubject => ({
  kind: 'email',
  emailAddress,
  firstName,
  lastName,
});

/** Mints with defaults: application APP, no site, timestamp AT, user alice. */
function mint(claims: {
  subject?: TicketSubject;
  siteName?: string;
  applicationId?: number;
  timestamp?: Date;
}) {
  return codec.mint({
    timestamp: claims.timestamp ?? AT,
    siteName: claims.siteName,
    applicationId: claims.applicationId ?? APP,
    subject: claims.subject ?? user('alice'),
  });
}

function refused(ticket: string, reasons: readonly TicketErrorReason[], label = ticket.slice(0, 80)): void {
  let claims: TicketClaims | undefined;
  try {
    claims = codec.open(ticket);
  } catch (error) {
    assert.ok(error instanceof TicketError, `${label}: threw ${String(error)}`);
    assert.ok(reasons.includes(error.reason), `${label}: ${error.reason} (${error.message})`);
    return;
  }
  assert.fail(`${label}: accepted as ${JSON.stringify(claims)}`);
}

/** A token with raw bytes in the middle of the user name. */
function withBytes(...bytes: number[]): Buffer {
  const [before, after] = token({ user: 'a\u0001b' }).split('\u0001') as [string, string];
  return Buffer.concat([Buffer.from(before), Buffer.of(...bytes), Buffer.from(after)]);
}

const malformed = (ticket: string, label?: string): void => refused(ticket, ['ticket-malformed'], label);

async function spawnText(file: string, args: string[], secret = SECRET): Promise<string> {
  const { stdout } = await run(file, args, { cwd: ROOT, env: { ...process.env, MFT_TICKET_SECRET: secret } });
  return stdout;
}

/** The program fails with exit status 2, nothing on stdout and one line on stderr matching `message`. */
async function failsWith(file: string, args: string[], secret: string, message: RegExp): Promise<void> {
  await assert.rejects(spawnText(file, args, secret), (error: unknown) => {
    const failure = error as { code?: number; stdout?: string; stderr?: string };
    const label = JSON.stringify(args);
    assert.equal(failure.code, 2, label);
    assert.equal(failure.stdout, '', label);
    assert.match(failure.stderr ?? '', message, label);
    assert.equal((failure.stderr ?? '').trim().split('\n').length, 1, `${label}: one line`);
    return true;
  });
}

/** Runs `task` for every item, four processes at a time (this machine has two cores, shared). */
async function fewAtATime<T>(items: readonly T[], task: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const worker = async (): Promise<void> => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await task(item);
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

/** The documented test vectors: the rows of each table under "Test vectors" in docs/tickets.md. */
async function documentedVectors(): Promise<{
  secret: string;
  key: string;
  vectors: Array<{ label: string; nonce: string; plaintext: string; ticket: string }>;
}> {
  const doc = await readFile(new URL('../../docs/tickets.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('**Test vectors**'), doc.indexOf('## Rules'));
  const secret = /secret `([^`]+)`/.exec(section)?.[1];
  const key = /key \(hex\)\s+`([0-9a-f]{64})`/.exec(section)?.[1];
  assert.ok(secret && key, 'docs/tickets.md names the secret and key of its test vectors');
  const vectors = [];
  for (const table of section.split(/\n\s*\n/).filter((block) => block.trimStart().startsWith('|'))) {
    const rows = new Map<string, string>();
    for (const line of table.trim().split('\n')) {
      const [name, value] = line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim());
      if (name !== undefined && value !== undefined) rows.set(name, value.replace(/^`|`$/g, ''));
    }
    const label = rows.get('') ?? '?';
    const [nonce, plaintext, ticket] = [rows.get('nonce (hex)'), rows.get('plaintext'), rows.get('ticket')];
    assert.ok(nonce && plaintext && ticket, `${label}: nonce, plaintext and ticket rows`);
    vectors.push({ label, nonce, plaintext, ticket });
  }
  return { secret, key, vectors };
}

describe('TicketCodec', () => {
  it('round-trips both shapes; the timestamp keeps whole seconds in UTC', () => {
    const ticket = mint({ siteName: 'acme', timestamp: new Date(AT.getTime() + 999) });
    assert.match(ticket, /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(codec.open(ticket), {
      timestamp: AT,
      siteName: 'acme',
      applicationId: APP,
      subject: { kind: 'user', userName: 'alice' },
    });
    assert.equal(unseal(SECRET, ticket), token({ site: 'acme' }));

    const ex = mint({ subject: person('jane@example.com', 'Jane', 'Doe'), siteName: 'site' });
    assert.deepEqual(codec.open(ex), {
      timestamp: AT,
      siteName: 'site',
      applicationId: APP,
      subject: { kind: 'email', emailAddress: 'jane@example.com', firstName: 'Jane', lastName: 'Doe' },
    });
    assert.equal(unseal(SECRET, ex), exToken());

    // No site, empty names, the smallest and largest application ids.
    assert.deepEqual(codec.open(mint({ subject: user('bob'), applicationId: 1 })), {
      timestamp: AT,
      siteName: '',
      applicationId: 1,
      subject: { kind: 'user', userName: 'bob' },
    });
    const unnamed = mint({ subject: person('a@b', '', ''), applicationId: 2_147_483_647 });
    assert.deepEqual(codec.open(unnamed), {
      timestamp: AT,
      siteName: '',
      applicationId: 2_147_483_647,
      subject: { kind: 'email', emailAddress: 'a@b', firstName: '', lastName: '' },
    });
    assert.equal(
      unseal(SECRET, unnamed),
      exToken({ site: '', app: '2147483647', email: 'a@b', first: '', last: '' }),
    );
  });

  it('uses a fresh nonce: the same claims give different tickets and digests', () => {
    const a = mint({});
    const b = mint({});
    assert.notEqual(a, b);
    assert.notEqual(ticketDigest(a), ticketDigest(b));
    const opener: TicketOpener = codec; // what the sign-in service expects
    assert.equal(opener.digest(a), ticketDigest(a));
    assert.match(ticketDigest(a), /^[0-9a-f]{64}$/);
    assert.equal(
      ticketDigest('abc'),
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', // SHA-256("abc")
    );
  });

  it('opens the test vectors in docs/tickets.md, one per shape', async () => {
    const { secret, key, vectors } = await documentedVectors();
    assert.equal(secret, 'correct horse battery staple');
    const derived = Buffer.from(
      hkdfSync('sha256', Buffer.from(secret), 'sluice-ticket', 'aes-256-gcm v1', 32),
    );
    assert.equal(key, derived.toString('hex'));
    const documented = new TicketCodec(secret);
    const opened = vectors.map(({ label, nonce, plaintext, ticket }) => {
      assert.equal(seal(secret, plaintext, { nonce: Buffer.from(nonce, 'hex') }), ticket, label);
      return documented.open(ticket);
    });
    const timestamp = new Date('2026-01-02T03:04:05Z');
    assert.deepEqual(opened, [
      { timestamp, siteName: 'example', applicationId: 1000, subject: user('alice') },
      {
        timestamp,
        siteName: 'example',
        applicationId: 1000,
        subject: person('jane.doe@partner.example', 'Jane', 'Doe'),
      },
    ]);
  });

  it('refuses version 1 tickets as malformed, the documented v1 vector included', () => {
    const v1 =
      '<token timestamp="03/04/2026 05:06:07"><sitename>site</sitename><username>alice</username></token>';
    malformed(seal(SECRET, v1, { version: 0x01 }), 'v1 ticket');
    // Neither byte alone makes a ticket: a v1 plaintext under 0x02, a v2 plaintext under 0x01.
    malformed(seal(SECRET, v1), 'v1 plaintext sealed as version 2');
    malformed(seal(SECRET, token(), { version: 0x01 }), 'v2 plaintext sealed as version 1');
    // The version 1 vector formerly in docs/tickets.md.
    const oldVector =
      'AQABAgMEBQYHCAkKC-6SwVfKqjmjuvMOD9ogUMc1r6w1WiaLXkqG9yWKBIxnZxrwU1SgOs3ovjYhZaatFgq_AU0xbZcND8Yb2VlN4Qdz3wJtccG_XIyZ1q4nB-XM6P7A4sCSuB5BcNUDRlw0eSN9KGS8oQmDzJczNQ0yj3hMBX6HDsJRZwbya3Aoth1RJw';
    assert.throws(
      () => new TicketCodec('correct horse battery staple').open(oldVector),
      (error: unknown) => error instanceof TicketError && error.reason === 'ticket-malformed',
    );
  });

  it('escapes XML special characters when minting and unescapes them when opening', () => {
    for (const name of [`a&b<c>d"e'f`, '&amp;', '&lt;tag&gt;', ']]>', 'Zoë 名前 🎫', '  spaced  ']) {
      const ticket = mint({ subject: user(name), siteName: name });
      assert.deepEqual(codec.open(ticket), {
        timestamp: AT,
        siteName: name,
        applicationId: APP,
        subject: user(name),
      });
      const ex = mint({ subject: person(`${name}@x`, name, name), siteName: name });
      assert.deepEqual(codec.open(ex), {
        timestamp: AT,
        siteName: name,
        applicationId: APP,
        subject: person(`${name}@x`, name, name),
      });
    }
    assert.equal(
      unseal(SECRET, mint({ subject: user(`a&b<c>d"e'f`) })),
      token({ site: '', user: `a&amp;b&lt;c&gt;d"e'f` }),
    );
    assert.equal(
      unseal(SECRET, mint({ subject: person(`<a&b>@x`, `O'Brien & <Co>`, `"D"`) })),
      exToken({ site: '', email: '&lt;a&amp;b&gt;@x', first: `O'Brien &amp; &lt;Co&gt;`, last: `"D"` }),
    );
    // Other writers may use all five predefined entities.
    const five = token({ user: '&amp;&lt;&gt;&quot;&apos;', site: '&quot;x&apos;' });
    assert.deepEqual(codec.open(seal(SECRET, five)), {
      timestamp: AT,
      siteName: `"x'`,
      applicationId: APP,
      subject: user(`&<>"'`),
    });
    const fiveEx = exToken({ email: '&quot;a&apos;@x', first: '&lt;&gt;', last: '&amp;' });
    assert.deepEqual(codec.open(seal(SECRET, fiveEx)).subject, person(`"a'@x`, '<>', '&'));
    // One level of unescaping only.
    assert.deepEqual(codec.open(seal(SECRET, token({ user: '&amp;lt;' }))).subject, user('&lt;'));
    assert.deepEqual(
      codec.open(seal(SECRET, exToken({ last: '&amp;gt;' }))).subject,
      person('jane@example.com', 'Jane', '&gt;'),
    );
  });

  it('fits the longest values of both shapes in a ticket, even when every character needs the longest escape', () => {
    const siteName = '&'.repeat(MAX_SITE_NAME_LENGTH);
    const applicationId = 2_147_483_647;
    const longestUser = user('&'.repeat(MAX_USER_NAME_LENGTH));
    const ticket = mint({ subject: longestUser, siteName, applicationId });
    assert.equal(ticket.length, 3606);
    assert.deepEqual(codec.open(ticket), { timestamp: AT, siteName, applicationId, subject: longestUser });

    const longestPerson = person(
      '&'.repeat(MAX_EMAIL_LENGTH),
      '&'.repeat(MAX_PERSON_NAME_LENGTH),
      '&'.repeat(MAX_PERSON_NAME_LENGTH),
    );
    const ex = mint({ subject: longestPerson, siteName, applicationId });
    assert.equal(ex.length, 5008); // the worst case docs/tickets.md names
    assert.ok(ex.length <= MAX_TICKET_LENGTH);
    assert.deepEqual(codec.open(ex), { timestamp: AT, siteName, applicationId, subject: longestPerson });

    // Four UTF-8 bytes per character are fewer than five for "&amp;".
    const astral = '🎫'.repeat(MAX_USER_NAME_LENGTH);
    assert.deepEqual(codec.open(mint({ subject: user(astral) })).subject, user(astral));
    const astralPerson = person(
      '🎫'.repeat(MAX_EMAIL_LENGTH),
      '🎫'.repeat(MAX_PERSON_NAME_LENGTH),
      '🎫'.repeat(MAX_PERSON_NAME_LENGTH),
    );
    assert.deepEqual(
      codec.open(mint({ subject: astralPerson, siteName: '🎫'.repeat(255) })).subject,
      astralPerson,
    );
  });

  it('refuses to mint what it would refuse to open', () => {
    const refuses = (claims: Parameters<typeof mint>[0], label: string) =>
      assert.throws(() => mint(claims), RangeError, label);
    refuses({ subject: user('') }, 'empty user name');
    refuses({ subject: user('x'.repeat(MAX_USER_NAME_LENGTH + 1)) }, 'long user name');
    refuses({ siteName: 'x'.repeat(MAX_SITE_NAME_LENGTH + 1) }, 'long site name');
    refuses({ subject: user('a\nb') }, 'newline in user name');
    refuses({ siteName: 'b\u0000' }, 'NUL in site name');
    refuses({ subject: user('\ud800') }, 'lone surrogate');
    refuses({ timestamp: new Date(Number.NaN) }, 'invalid date');
    refuses({ timestamp: new Date('1969-12-31T23:59:59Z') }, 'before 1970');
    for (const applicationId of [0, -1, 1.5, 2 ** 31, Number.NaN, Number.POSITIVE_INFINITY, 1e10]) {
      refuses({ applicationId }, `application ${applicationId}`);
    }
    refuses({ subject: person('', 'Jane', 'Doe') }, 'empty e-mail');
    refuses({ subject: person('a@', 'Jane', 'Doe') }, 'two-character e-mail');
    refuses({ subject: person(`${'e'.repeat(MAX_EMAIL_LENGTH - 1)}@x`, 'J', 'D') }, 'long e-mail');
    refuses({ subject: person('a@b', 'J'.repeat(MAX_PERSON_NAME_LENGTH + 1), 'D') }, 'long first name');
    refuses({ subject: person('a@b', 'J', 'D'.repeat(MAX_PERSON_NAME_LENGTH + 1)) }, 'long last name');
    refuses({ subject: person('a@b\t', 'J', 'D') }, 'tab in e-mail');
    refuses({ subject: person('a@b', 'J\u0085', 'D') }, 'C1 control in first name');
    refuses({ subject: person('a@b', 'J', 'D\uffff') }, 'U+FFFF in last name');
    // The limits themselves are fine.
    assert.ok(mint({ subject: person('a@b', '', ''), applicationId: 1 }));
    assert.ok(
      mint({ subject: person(`${'e'.repeat(MAX_EMAIL_LENGTH - 2)}@x`, 'J'.repeat(100), 'D'.repeat(100)) }),
    );
  });

  it('requires a secret of at least 16 characters', () => {
    assert.throws(() => new TicketCodec(''), /at least 16 characters/);
    assert.throws(() => new TicketCodec('x'.repeat(15)), /at least 16 characters/);
    assert.doesNotThrow(() => new TicketCodec('x'.repeat(16)));
  });

  it('refuses a ticket sealed with another secret as ticket-wrong-key', () => {
    const other = new TicketCodec('another-secret-0123456789');
    refused(other.mint({ timestamp: AT, applicationId: APP, subject: user('alice') }), ['ticket-wrong-key']);
    refused(other.mint({ timestamp: AT, applicationId: APP, subject: person('a@b', 'A', 'B') }), [
      'ticket-wrong-key',
    ]);
  });

  it('refuses every flipped byte and every substituted character', () => {
    for (const ticket of [
      mint({ siteName: 'acme' }),
      mint({ siteName: 'acme', subject: person('a@b', 'A', 'B') }),
    ]) {
      const bytes = Buffer.from(ticket, 'base64url');
      for (let i = 0; i < bytes.length; i++) {
        for (const mask of [0x01, 0x80, 0xff]) {
          const flipped = Buffer.from(bytes);
          flipped[i] = (flipped[i] ?? 0) ^ mask;
          refused(
            flipped.toString('base64url'),
            i === 0 ? ['ticket-malformed'] : ['ticket-wrong-key'],
            `byte ${i}`,
          );
        }
      }
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      for (let i = 0; i < ticket.length; i++) {
        for (const char of alphabet) {
          if (char === ticket[i]) continue;
          const changed = ticket.slice(0, i) + char + ticket.slice(i + 1);
          refused(changed, ['ticket-malformed', 'ticket-wrong-key'], `char ${i} → ${char}`);
        }
      }
    }
  });

  it('refuses truncated, empty, non-base64url, oversized and wrong-version tickets as malformed', () => {
    const ticket = mint({});
    // Fewer bytes than the shortest plaintext that could parse, with version, nonce and tag.
    const shortest = token({ site: '', app: '1', user: 'a' });
    const shortestChars = Math.floor(((1 + 12 + Buffer.byteLength(shortest) + 16) * 4) / 3);
    assert.ok(codec.open(seal(SECRET, shortest)), 'the shortest plaintext opens');
    malformed('', 'empty');
    for (let length = 1; length < shortestChars; length++)
      malformed(ticket.slice(0, length), `first ${length}`);
    // Every other truncation fails authentication (GCM cannot tell it from a wrong key).
    for (let length = shortestChars; length < ticket.length; length++) {
      refused(ticket.slice(0, length), ['ticket-malformed', 'ticket-wrong-key'], `first ${length}`);
    }
    for (const bad of [
      `${ticket}=`,
      `${ticket}==`,
      ticket.replaceAll('-', '+').replaceAll('_', '/').replace(/^(.)/, '+'),
      `${ticket.slice(0, 10)}/${ticket.slice(11)}`,
      ` ${ticket}`,
      `${ticket}\n`,
      `${ticket.slice(0, 10)}.${ticket.slice(11)}`,
      `${ticket.slice(0, 10)}é${ticket.slice(11)}`,
      ticket + 'A'.repeat((5 - (ticket.length % 4)) % 4 || 4), // 4n + 1 characters: never base64
    ]) {
      malformed(bad);
    }
    // Other spellings of the same bytes (non-zero padding bits) would dodge the replay digest.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    let respellings = 0;
    for (const userName of ['a', 'ab', 'abc']) {
      const original = mint({ subject: user(userName) });
      for (const char of alphabet) {
        const respelled = original.slice(0, -1) + char;
        const same = Buffer.from(respelled, 'base64url').equals(Buffer.from(original, 'base64url'));
        if (respelled !== original && same) {
          malformed(respelled, `respelled last character ${char}`);
          respellings++;
        }
      }
    }
    assert.ok(respellings > 0);
    malformed('A'.repeat(MAX_TICKET_LENGTH + 1), 'oversized');
    const oversized = seal(SECRET, token({ user: 'a'.repeat(6200) }));
    assert.ok(oversized.length > MAX_TICKET_LENGTH);
    malformed(oversized, 'sealed but oversized');
    for (const version of [0x00, 0x01, 0x03, 0xff]) {
      malformed(seal(SECRET, token(), { version }), `version ${version}`);
      malformed(seal(SECRET, exToken(), { version }), `version ${version}, e-mail shape`);
    }
  });

  it('refuses correctly sealed but hostile plaintext as malformed', () => {
    const head = `<token timestamp="${TS}"><sitename>site</sitename>`;
    const app = `<applicationid>${APP}</applicationid>`;
    const names = '<firstname>Jane</firstname><lastname>Doe</lastname>';
    const email = '<emailaddress>jane@example.com</emailaddress>';
    const hostile: Record<string, string | Buffer> = {
      empty: '',
      'not XML': 'alice',
      DOCTYPE: `<!DOCTYPE token [<!ENTITY x "alice">]>${token({ user: '&x;' })}`,
      'DOCTYPE alone': `<!DOCTYPE token>${token()}`,
      'XML declaration': `<?xml version="1.0" encoding="UTF-8"?>${token()}`,
      'billion laughs': `<!DOCTYPE t [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>${token({ user: '&b;' })}`,
      'custom entity': token({ user: '&x;' }),
      'external entity': token({ user: '&xxe;' }),
      'decimal reference': token({ user: '&#65;' }),
      'hex reference': token({ user: '&#x41;' }),
      'reference to a control character': token({ user: 'a&#1;b' }),
      'unterminated entity': token({ user: 'a&amp' }),
      'bare ampersand': token({ user: 'a & b' }),
      'entity without name': token({ user: '&;' }),
      'extra element inside token': token().replace('</token>', '<role>admin</role></token>'),
      'element inside username': token({ user: '<b>alice</b>' }),
      'duplicate username': token().replace('</token>', '<username>bob</username></token>'),
      'elements swapped': `${head.replace('<sitename>site</sitename>', '')}${app}<username>alice</username><sitename>site</sitename></token>`,
      'missing sitename': `<token timestamp="${TS}">${app}<username>alice</username></token>`,
      'missing username': `${head}${app}</token>`,
      'self-closing sitename': `<token timestamp="${TS}"><sitename/>${app}<username>alice</username></token>`,
      'empty username': token({ user: '' }),
      'second token': token() + token(),
      'text after token': `${token()}x`,
      'trailing newline': `${token()}\n`,
      'whitespace between elements': token().replace('<username>', '\n  <username>'),
      'leading BOM': `\ufeff${token()}`,
      comment: token({ user: 'al<!-- x -->ice' }),
      CDATA: token({ user: '<![CDATA[alice]]>' }),
      'processing instruction': `${token()}<?pi x?>`,
      'literal ]]>': token({ user: 'a]]>b' }),
      'upper-case element': token().replace('<token', '<Token').replace('</token>', '</Token>'),
      'missing timestamp': `<token><sitename>site</sitename>${app}<username>alice</username></token>`,
      'empty timestamp': token({ ts: '' }),
      'single-quoted timestamp': token().replace(`timestamp="${TS}"`, `timestamp='${TS}'`),
      'extra attribute': token().replace('">', '" role="admin">'),
      'space before attribute value': token().replace('timestamp="', 'timestamp = "'),
      'ISO timestamp': token({ ts: '2026-03-04T05:06:07Z' }),
      'month 13, day 45': token({ ts: '13/45/2026 05:06:07' }),
      'February 30': token({ ts: '02/30/2026 05:06:07' }),
      'February 29 in a common year': token({ ts: '02/29/2025 05:06:07' }),
      'month 00': token({ ts: '00/10/2026 05:06:07' }),
      'day 00': token({ ts: '10/00/2026 05:06:07' }),
      'hour 24': token({ ts: '03/04/2026 24:00:00' }),
      'minute 60': token({ ts: '03/04/2026 05:60:07' }),
      'leap second': token({ ts: '12/31/2026 23:59:60' }),
      'year before 1970': token({ ts: '03/04/0026 05:06:07' }),
      'one-digit month': token({ ts: '3/04/2026 05:06:07' }),
      '12-hour clock': token({ ts: '03/04/2026 05:06:07 PM' }),
      'full-width digits': token({ ts: '０3/04/2026 05:06:07' }),
      'NUL in username': token({ user: 'ali\u0000ce' }),
      'bell in username': token({ user: 'ali\u0007ce' }),
      'escape in sitename': token({ site: '\u001b[31m' }),
      'tab in username': token({ user: 'ali\tce' }),
      'newline in username': token({ user: 'alice\nadmin' }),
      'DEL in username': token({ user: 'alice\u007f' }),
      'C1 control in username': token({ user: 'alice\u0085' }),
      'U+FFFF in username': token({ user: 'alice\uffff' }),
      'username too long': token({ user: 'a'.repeat(MAX_USER_NAME_LENGTH + 1) }),
      'username too long after unescaping': token({ user: '&amp;'.repeat(MAX_USER_NAME_LENGTH + 1) }),
      'sitename too long': token({ site: 's'.repeat(MAX_SITE_NAME_LENGTH + 1) }),
      'invalid UTF-8': withBytes(0xc3, 0x28),
      'UTF-8 encoded surrogate': withBytes(0xed, 0xa0, 0x80),
      'overlong UTF-8': withBytes(0xc0, 0xbc),

      // The application id: present, in its place, canonical decimal 1..2147483647.
      'missing applicationid (the version 1 shape)': `${head}<username>alice</username></token>`,
      'missing applicationid, e-mail shape': `${head}${email}${names}</token>`,
      'applicationid after username': `${head}<username>alice</username>${app}</token>`,
      'applicationid after the names': `${head}${email}${names}${app}</token>`,
      'applicationid before sitename': `<token timestamp="${TS}">${app}<sitename>site</sitename><username>alice</username></token>`,
      'applicationid between e-mail and names': `${head}${email}${app}${names}</token>`,
      'duplicate applicationid': `${head}${app}${app}<username>alice</username></token>`,
      'self-closing applicationid': `${head}<applicationid/><username>alice</username></token>`,
      'applicationid with an attribute': token().replace('<applicationid>', '<applicationid type="int">'),
      'upper-case applicationid element': token()
        .replace('<applicationid>', '<ApplicationId>')
        .replace('</applicationid>', '</ApplicationId>'),
      'empty applicationid': token({ app: '' }),
      'applicationid 0': token({ app: '0' }),
      'applicationid 00': token({ app: '00' }),
      'leading zero': token({ app: '01000' }),
      'leading zero, e-mail shape': exToken({ app: '01000' }),
      'negative applicationid': token({ app: '-1' }),
      'plus sign': token({ app: '+1000' }),
      'space before applicationid': token({ app: ' 1000' }),
      'space after applicationid': token({ app: '1000 ' }),
      'decimal point': token({ app: '1000.0' }),
      fraction: token({ app: '1.5' }),
      exponent: token({ app: '1e3' }),
      hexadecimal: token({ app: '0x3e8' }),
      'applicationid 2^31': token({ app: '2147483648' }),
      'applicationid 2^31, e-mail shape': exToken({ app: '2147483648' }),
      'applicationid 2^32 + 1000': token({ app: '4294968296' }),
      'eleven digits': token({ app: '10000000000' }),
      'four hundred digits': token({ app: '9'.repeat(400) }),
      'full-width digits in applicationid': token({ app: '１０００' }),
      'Arabic-Indic digits in applicationid': token({ app: '١٠٠٠' }),
      'numeric reference in applicationid': token({ app: '&#49;000' }),
      'entity in applicationid': token({ app: '1000&amp;' }),
      'text applicationid': token({ app: 'admin' }),

      // The subject: exactly one of the two shapes.
      'username and emailaddress': token().replace('</token>', `${email}${names}</token>`),
      'emailaddress and username': exToken().replace('</token>', '<username>alice</username></token>'),
      'emailaddress before username': `${head}${app}${email}<username>alice</username></token>`,
      'username with names': token().replace('</token>', `${names}</token>`),
      'username with firstname': token().replace('</token>', '<firstname>Jane</firstname></token>'),
      'no subject': `${head}${app}</token>`,
      'names only': `${head}${app}${names}</token>`,
      'unknown subject element': `${head}${app}<userid>42</userid></token>`,
      'missing lastname': `${head}${app}${email}<firstname>Jane</firstname></token>`,
      'missing firstname': `${head}${app}${email}<lastname>Doe</lastname></token>`,
      'missing both names': `${head}${app}${email}</token>`,
      'names swapped': `${head}${app}${email}<lastname>Doe</lastname><firstname>Jane</firstname></token>`,
      'names before emailaddress': `${head}${app}${names}${email}</token>`,
      'self-closing lastname': exToken().replace('<lastname>Doe</lastname>', '<lastname/>'),
      'duplicate lastname': exToken().replace('</token>', '<lastname>Roe</lastname></token>'),
      'duplicate emailaddress': exToken().replace(email, `${email}${email}`),
      'extra element after the names': exToken().replace('</token>', '<role>admin</role></token>'),
      'whitespace between e-mail and names': exToken().replace('<firstname>', ' <firstname>'),
      'element inside firstname': exToken({ first: '<b>Jane</b>' }),
      'empty emailaddress': exToken({ email: '' }),
      'two-character emailaddress': exToken({ email: 'a@' }),
      'emailaddress too long': exToken({ email: `${'e'.repeat(MAX_EMAIL_LENGTH - 1)}@x` }),
      'emailaddress too long after unescaping': exToken({ email: '&amp;'.repeat(MAX_EMAIL_LENGTH + 1) }),
      'firstname too long': exToken({ first: 'J'.repeat(MAX_PERSON_NAME_LENGTH + 1) }),
      'lastname too long after unescaping': exToken({ last: '&amp;'.repeat(MAX_PERSON_NAME_LENGTH + 1) }),
      'NUL in emailaddress': exToken({ email: 'jane\u0000@example.com' }),
      'newline in emailaddress': exToken({ email: 'jane@example.com\nadmin@example.com' }),
      'tab in firstname': exToken({ first: 'Ja\tne' }),
      'C1 control in lastname': exToken({ last: 'Doe\u0085' }),
      'custom entity in lastname': exToken({ last: '&x;' }),
      'CDATA in emailaddress': exToken({ email: '<![CDATA[jane@example.com]]>' }),
    };
    for (const [label, plaintext] of Object.entries(hostile)) malformed(seal(SECRET, plaintext), label);
    // The same ticket shapes at the limits are fine.
    const limits = [
      token({ user: 'a'.repeat(MAX_USER_NAME_LENGTH), site: 's'.repeat(MAX_SITE_NAME_LENGTH) }),
      token({ user: '&amp;'.repeat(MAX_USER_NAME_LENGTH) }),
      token({ ts: '02/29/2028 23:59:59', site: '' }),
      token({ app: '1' }),
      token({ app: '2147483647' }),
      token({ app: '1000000000' }),
      exToken({ email: 'a@b', first: '', last: '' }),
      exToken({
        email: '&amp;'.repeat(MAX_EMAIL_LENGTH),
        first: 'J'.repeat(MAX_PERSON_NAME_LENGTH),
        last: '&lt;'.repeat(MAX_PERSON_NAME_LENGTH),
        app: '2147483647',
      }),
    ];
    for (const plaintext of limits) assert.ok(codec.open(seal(SECRET, plaintext)), plaintext.slice(0, 120));
  });

  it('refuses every prefix of the sealed bytes and random noise without crashing', () => {
    for (const sealed of [sealBytes(SECRET, token()), sealBytes(SECRET, exToken())]) {
      for (let length = 0; length < sealed.length; length++) {
        const bytes = sealed.subarray(0, length);
        refused(bytes.toString('base64url'), ['ticket-malformed', 'ticket-wrong-key'], `${length} bytes`);
      }
    }
    for (let i = 0; i < 400; i++) {
      const noise = Buffer.alloc(1 + (i % 400));
      for (let j = 0; j < noise.length; j++) noise[j] = (i * 31 + j * 17) & 0xff;
      noise[0] = 0x02;
      refused(noise.toString('base64url'), ['ticket-malformed', 'ticket-wrong-key'], `noise ${i}`);
    }
  });
});

describe('minting outside TypeScript', () => {
  const PYTHON = ['/usr/bin/python3', 'docs/examples/mint_ticket.py'] as const;
  const NODE = [process.execPath, 'docs/examples/mint-ticket.mjs'] as const;
  const CLI = [process.execPath, '--import', 'tsx', 'src/cli/mint-ticket.ts'] as const;

  /** Arguments for the examples, and the claims they must seal. */
  const cases: Array<{ args: string[]; applicationId: number; siteName: string; subject: TicketSubject }> = [
    { args: ['1000', 'alice'], applicationId: 1000, siteName: '', subject: user('alice') },
    {
      args: ['1', 'bob@example.com', 'acme'],
      applicationId: 1,
      siteName: 'acme',
      subject: user('bob@example.com'),
    },
    {
      args: ['2147483647', `o'brien & "co" <x>`, 'site & <more>'],
      applicationId: 2_147_483_647,
      siteName: 'site & <more>',
      subject: user(`o'brien & "co" <x>`),
    },
    {
      args: ['1000', '--email', 'jane.doe@partner.example', 'Jane', 'Doe'],
      applicationId: 1000,
      siteName: '',
      subject: person('jane.doe@partner.example', 'Jane', 'Doe'),
    },
    {
      args: ['4242', '--email', 'zoë@例え.jp', 'Zoë', '名前 🎫', 'ünïcode'],
      applicationId: 4242,
      siteName: 'ünïcode',
      subject: person('zoë@例え.jp', 'Zoë', '名前 🎫'),
    },
    {
      args: ['1000', '--email', `o'brien&co@x.example`, '', `<O'Brien & "Co">`, 'acme'],
      applicationId: 1000,
      siteName: 'acme',
      subject: person(`o'brien&co@x.example`, '', `<O'Brien & "Co">`),
    },
  ];

  /** The claims are the expected ones, minted just now (whole seconds). */
  function fresh(claims: TicketClaims, expected: Omit<TicketClaims, 'timestamp'>): void {
    const { timestamp, ...rest } = claims;
    assert.deepEqual(rest, expected);
    const age = Date.now() - timestamp.getTime();
    assert.ok(age >= -1000 && age < 60_000, `timestamp is now (age ${age} ms)`);
    assert.equal(timestamp.getUTCMilliseconds(), 0);
  }

  /** Usage errors both examples report with exit status 2. */
  const usageErrors: Array<[string[], string, RegExp]> = [
    [['1000', 'alice'], 'short', /MFT_TICKET_SECRET must be set to at least 16 characters/],
    [['1000', 'alice'], '', /MFT_TICKET_SECRET must be set/],
    [[], SECRET, /^usage: /],
    [['1000'], SECRET, /^usage: /],
    [['alice'], SECRET, /^usage: /],
    [['alice', 'acme'], SECRET, /applicationId must be an integer from 1 to 2147483647/],
    [['1000', 'alice', 'acme', 'extra'], SECRET, /^usage: /],
    [['0', 'alice'], SECRET, /applicationId must be/],
    [['01000', 'alice'], SECRET, /applicationId must be/],
    [['-1', 'alice'], SECRET, /applicationId must be/],
    [['1.5', 'alice'], SECRET, /applicationId must be/],
    [['2147483648', 'alice'], SECRET, /applicationId must be/],
    [['1000', '--email', 'jane@example.com'], SECRET, /^usage: /],
    [['1000', '--email', 'jane@example.com', 'Jane'], SECRET, /^usage: /],
    [['1000', '--email', 'jane@example.com', 'Jane', 'Doe', 'acme', 'extra'], SECRET, /^usage: /],
  ];

  for (const [name, program] of [
    ['The Python example (docs/examples/mint_ticket.py)', PYTHON],
    ['The Node example (docs/examples/mint-ticket.mjs)', NODE],
  ] as const) {
    it(`${name} mints tickets of both shapes the codec opens`, async () => {
      for (const { args, ...expected } of cases) {
        const stdout = await spawnText(program[0], [program[1], ...args]);
        assert.match(stdout, /^A[A-Za-z0-9_-]+\n$/, `${args.join(' ')}: version 2, only the ticket`);
        fresh(codec.open(stdout.trim()), expected);
      }
    });

    it(`${name} refuses bad arguments and a short secret with one line and exit status 2`, async () => {
      await fewAtATime(usageErrors, ([args, secret, message]) =>
        failsWith(program[0], [program[1], ...args], secret, message),
      );
    });
  }

  it('the CLI prints only the ticket', async () => {
    const stdout = await spawnText(CLI[0], [
      ...CLI.slice(1),
      '--application',
      '1000',
      '--user',
      `o'brien & co`,
      '--site',
      'acme',
      '--timestamp',
      '2026-01-02T05:04:05+02:00',
    ]);
    assert.match(stdout, /^[A-Za-z0-9_-]+\n$/);
    assert.deepEqual(codec.open(stdout.trim()), {
      timestamp: new Date('2026-01-02T03:04:05Z'),
      siteName: 'acme',
      applicationId: 1000,
      subject: user(`o'brien & co`),
    });
    const ex = await spawnText(CLI[0], [
      ...CLI.slice(1),
      '--application',
      '2147483647',
      '--email',
      'jane.doe@partner.example',
      '--first-name',
      'Jane',
      '--last-name',
      `<O'Brien & "Co">`,
    ]);
    assert.match(ex, /^[A-Za-z0-9_-]+\n$/);
    fresh(codec.open(ex.trim()), {
      siteName: '',
      applicationId: 2_147_483_647,
      subject: person('jane.doe@partner.example', 'Jane', `<O'Brien & "Co">`),
    });
    const unnamed = await spawnText(CLI[0], [...CLI.slice(1), '--application', '1', '--email', 'a@b']);
    fresh(codec.open(unnamed.trim()), { siteName: '', applicationId: 1, subject: person('a@b', '', '') });
  });

  it('the CLI refuses bad arguments with one line and exit status 2', async () => {
    const userArgs = ['--application', '1000', '--user', 'alice'];
    const emailArgs = ['--application', '1000', '--email', 'jane@example.com'];
    const cases: Array<[string[], string, RegExp]> = [
      [userArgs, '', /MFT_TICKET_SECRET is not set/],
      [userArgs, 'too-short', /MFT_TICKET_SECRET must be at least 16 characters/],
      [[], SECRET, /--application is required/],
      [['--user', 'alice'], SECRET, /--application is required/],
      [['--email', 'jane@example.com'], SECRET, /--application is required/],
      [['--application', '1000'], SECRET, /give exactly one of --user and --email/],
      [[...userArgs, '--email', 'jane@example.com'], SECRET, /give exactly one of --user and --email/],
      [[...userArgs, '--first-name', 'Jane'], SECRET, /--first-name and --last-name go with --email/],
      [[...userArgs, '--last-name', 'Doe'], SECRET, /--first-name and --last-name go with --email/],
      [['--application', '0', '--user', 'alice'], SECRET, /--application is not an application id/],
      [['--application', '01000', '--user', 'alice'], SECRET, /--application is not an application id/],
      // parseArgs's own message spans three lines; the CLI still prints one.
      [['--application', '-1', '--user', 'alice'], SECRET, /argument is ambiguous.*usage: mint-ticket/],
      [['--application=-1', '--user', 'alice'], SECRET, /--application is not an application id/],
      [['--application', 'acme', '--user', 'alice'], SECRET, /--application is not an application id/],
      [['--application', '2147483648', '--user', 'alice'], SECRET, /applicationId must be an integer/],
      [['--application', '1000', '--user', ''], SECRET, /userName must be/],
      [[...userArgs, '--bogus'], SECRET, /usage: mint-ticket/],
      [[...userArgs, '--timestamp', 'yesterday'], SECRET, /--timestamp/],
      [[...userArgs, '--timestamp', 'yesterday\nadmin'], SECRET, /--timestamp is not an ISO 8601 date/],
      [['--application', '1000', '--email', 'ab'], SECRET, /emailAddress must be 3–254 characters/],
      [[...emailArgs, '--first-name', 'J'.repeat(101)], SECRET, /firstName must be 0–100 characters/],
      [[...emailArgs, '--last-name', 'D\u0007'], SECRET, /lastName must not contain control/],
    ];
    await fewAtATime(cases, ([args, secret, message]) =>
      failsWith(CLI[0], [...CLI.slice(1), ...args], secret, message),
    );
  });

  it('npm run mint-ticket runs the CLI', async () => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const stdout = await spawnText(npm, [
      'run',
      '--silent',
      'mint-ticket',
      '--',
      '--application',
      '1000',
      '--user',
      'carol',
    ]);
    fresh(codec.open(stdout.trim()), { siteName: '', applicationId: 1000, subject: user('carol') });
  });
});
