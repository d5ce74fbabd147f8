/**
 * The ticket format (docs/tickets.md): TicketCodec round trips, the documented examples and
 * the CLI produce tickets the codec opens, and every damaged or hostile ticket is refused
 * with `ticket-malformed` or `ticket-wrong-key`, never accepted and never a crash.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  MAX_SITE_NAME_LENGTH,
  MAX_TICKET_LENGTH,
  MAX_USER_NAME_LENGTH,
  type TicketClaims,
  TicketCodec,
  TicketError,
  type TicketErrorReason,
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

function token(body: { ts?: string; site?: string; user?: string } = {}): string {
  return (
    `<token timestamp="${body.ts ?? TS}"><sitename>${body.site ?? 'site'}</sitename>` +
    `<username>${body.user ?? 'alice'}</username></token>`
  );
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

describe('TicketCodec', () => {
  it('round-trips claims; the timestamp keeps whole seconds in UTC', () => {
    const ticket = codec.mint({
      userName: 'alice',
      siteName: 'acme',
      timestamp: new Date(AT.getTime() + 999),
    });
    assert.match(ticket, /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(codec.open(ticket), { timestamp: AT, siteName: 'acme', userName: 'alice' });
    assert.equal(unseal(SECRET, ticket), token({ site: 'acme' }));
    assert.deepEqual(codec.open(codec.mint({ userName: 'bob', timestamp: AT })), {
      timestamp: AT,
      siteName: '',
      userName: 'bob',
    });
  });

  it('uses a fresh nonce: the same claims give different tickets and digests', () => {
    const a = codec.mint({ userName: 'alice', timestamp: AT });
    const b = codec.mint({ userName: 'alice', timestamp: AT });
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

  it('opens the test vector in docs/tickets.md', () => {
    const vector =
      'AQABAgMEBQYHCAkKC-6SwVfKqjmjuvMOD9ogUMc1r6w1WiaLXkqG9yWKBIxnZxrwU1SgOs3ovjYhZaatFgq_AU0xbZcND8Yb2VlN4Qdz3wJtccG_XIyZ1q4nB-XM6P7A4sCSuB5BcNUDRlw0eSN9KGS8oQmDzJczNQ0yj3hMBX6HDsJRZwbya3Aoth1RJw';
    const plaintext =
      '<token timestamp="01/02/2026 03:04:05"><sitename>example</sitename><username>alice@example.com</username></token>';
    const secret = 'correct horse battery staple';
    assert.equal(seal(secret, plaintext, { nonce: Buffer.from('000102030405060708090a0b', 'hex') }), vector);
    assert.deepEqual(new TicketCodec(secret).open(vector), {
      timestamp: new Date('2026-01-02T03:04:05Z'),
      siteName: 'example',
      userName: 'alice@example.com',
    });
  });

  it('escapes XML special characters when minting and unescapes them when opening', () => {
    for (const name of [`a&b<c>d"e'f`, '&amp;', '&lt;tag&gt;', ']]>', 'Zoë 名前 🎫', '  spaced  ']) {
      const ticket = codec.mint({ userName: name, siteName: name, timestamp: AT });
      assert.deepEqual(codec.open(ticket), { timestamp: AT, siteName: name, userName: name });
    }
    assert.equal(
      unseal(SECRET, codec.mint({ userName: `a&b<c>d"e'f`, timestamp: AT })),
      `<token timestamp="${TS}"><sitename></sitename><username>a&amp;b&lt;c&gt;d"e'f</username></token>`,
    );
    // Other writers may use all five predefined entities.
    const five = token({ user: '&amp;&lt;&gt;&quot;&apos;', site: '&quot;x&apos;' });
    assert.deepEqual(codec.open(seal(SECRET, five)), { timestamp: AT, siteName: `"x'`, userName: `&<>"'` });
    // One level of unescaping only.
    assert.equal(codec.open(seal(SECRET, token({ user: '&amp;lt;' }))).userName, '&lt;');
  });

  it('fits the longest names in a ticket, even when every character needs the longest escape', () => {
    const userName = '&'.repeat(MAX_USER_NAME_LENGTH);
    const siteName = '&'.repeat(MAX_SITE_NAME_LENGTH);
    const ticket = codec.mint({ userName, siteName, timestamp: AT });
    assert.equal(ticket.length, 3551);
    assert.ok(ticket.length <= MAX_TICKET_LENGTH);
    assert.deepEqual(codec.open(ticket), { timestamp: AT, siteName, userName });
    const astral = '🎫'.repeat(MAX_USER_NAME_LENGTH);
    assert.equal(codec.open(codec.mint({ userName: astral, timestamp: AT })).userName, astral);
  });

  it('refuses to mint what it would refuse to open', () => {
    const mint =
      (userName: string, siteName?: string, timestamp = AT) =>
      () =>
        codec.mint({ userName, siteName, timestamp });
    assert.throws(mint(''), RangeError);
    assert.throws(mint('x'.repeat(MAX_USER_NAME_LENGTH + 1)), RangeError);
    assert.throws(mint('a', 'x'.repeat(MAX_SITE_NAME_LENGTH + 1)), RangeError);
    assert.throws(mint('a\nb'), RangeError);
    assert.throws(mint('a', 'b\u0000'), RangeError);
    assert.throws(mint('\ud800'), RangeError);
    assert.throws(mint('a', undefined, new Date(Number.NaN)), RangeError);
    assert.throws(mint('a', undefined, new Date('1969-12-31T23:59:59Z')), RangeError);
  });

  it('requires a secret of at least 16 characters', () => {
    assert.throws(() => new TicketCodec(''), /at least 16 characters/);
    assert.throws(() => new TicketCodec('x'.repeat(15)), /at least 16 characters/);
    assert.doesNotThrow(() => new TicketCodec('x'.repeat(16)));
  });

  it('refuses a ticket sealed with another secret as ticket-wrong-key', () => {
    const ticket = new TicketCodec('another-secret-0123456789').mint({ userName: 'alice', timestamp: AT });
    refused(ticket, ['ticket-wrong-key']);
  });

  it('refuses every flipped byte and every substituted character', () => {
    const ticket = codec.mint({ userName: 'alice', siteName: 'acme', timestamp: AT });
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
  });

  it('refuses truncated, empty, non-base64url, oversized and wrong-version tickets as malformed', () => {
    const ticket = codec.mint({ userName: 'alice', timestamp: AT });
    malformed('', 'empty');
    for (let length = 1; length < 40; length++) malformed(ticket.slice(0, length), `first ${length}`);
    // Every other truncation fails authentication (GCM cannot tell it from a wrong key).
    for (let length = 40; length < ticket.length; length++) {
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
      const original = codec.mint({ userName, timestamp: AT });
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
    malformed(seal(SECRET, token({ user: 'a'.repeat(3100) })), 'sealed but oversized');
    for (const version of [0x00, 0x02, 0xff]) {
      malformed(seal(SECRET, token(), { version }), `version ${version}`);
    }
  });

  it('refuses correctly sealed but hostile plaintext as malformed', () => {
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
      'elements swapped': `<token timestamp="${TS}"><username>alice</username><sitename>site</sitename></token>`,
      'missing sitename': `<token timestamp="${TS}"><username>alice</username></token>`,
      'missing username': `<token timestamp="${TS}"><sitename>site</sitename></token>`,
      'self-closing sitename': `<token timestamp="${TS}"><sitename/><username>alice</username></token>`,
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
      'missing timestamp': '<token><sitename>site</sitename><username>alice</username></token>',
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
    };
    for (const [label, plaintext] of Object.entries(hostile)) malformed(seal(SECRET, plaintext), label);
    // The same ticket shapes at the limits are fine.
    const limits = [
      token({ user: 'a'.repeat(MAX_USER_NAME_LENGTH), site: 's'.repeat(MAX_SITE_NAME_LENGTH) }),
      token({ user: '&amp;'.repeat(MAX_USER_NAME_LENGTH) }),
      token({ ts: '02/29/2028 23:59:59', site: '' }),
    ];
    for (const plaintext of limits) assert.ok(codec.open(seal(SECRET, plaintext)));
  });

  it('refuses every prefix of the sealed bytes and random noise without crashing', () => {
    const sealed = sealBytes(SECRET, token());
    for (let length = 0; length < sealed.length; length++) {
      const bytes = sealed.subarray(0, length);
      refused(bytes.toString('base64url'), ['ticket-malformed', 'ticket-wrong-key'], `${length} bytes`);
    }
    for (let i = 0; i < 200; i++) {
      const noise = Buffer.alloc(1 + (i % 200));
      for (let j = 0; j < noise.length; j++) noise[j] = (i * 31 + j * 17) & 0xff;
      noise[0] = 0x01;
      refused(noise.toString('base64url'), ['ticket-malformed', 'ticket-wrong-key'], `noise ${i}`);
    }
  });
});

describe('minting outside TypeScript', () => {
  const names: Array<[string, string]> = [
    ['alice', ''],
    ['bob@example.com', 'acme'],
    [`o'brien & "co" <x>`, 'site & <more>'],
    ['Zoë 名前 🎫', 'ünïcode'],
  ];

  function fresh(claims: TicketClaims, userName: string, siteName: string): void {
    assert.equal(claims.userName, userName);
    assert.equal(claims.siteName, siteName);
    const age = Date.now() - claims.timestamp.getTime();
    assert.ok(age >= -1000 && age < 60_000, `timestamp is now (age ${age} ms)`);
    assert.equal(claims.timestamp.getUTCMilliseconds(), 0);
  }

  it('the Python example (docs/examples/mint_ticket.py) mints tickets the codec opens', async () => {
    for (const [userName, siteName] of names) {
      const args = ['docs/examples/mint_ticket.py', userName, ...(siteName ? [siteName] : [])];
      const ticket = (await spawnText('/usr/bin/python3', args)).trim();
      fresh(codec.open(ticket), userName, siteName);
    }
  });

  it('the Node example (docs/examples/mint-ticket.mjs) mints tickets the codec opens', async () => {
    for (const [userName, siteName] of names) {
      const args = ['docs/examples/mint-ticket.mjs', userName, ...(siteName ? [siteName] : [])];
      const ticket = (await spawnText(process.execPath, args)).trim();
      fresh(codec.open(ticket), userName, siteName);
    }
  });

  it('the Python example refuses a missing or short secret', async () => {
    await assert.rejects(spawnText('/usr/bin/python3', ['docs/examples/mint_ticket.py', 'alice'], 'short'), {
      code: 2,
    });
  });

  it('the CLI prints only the ticket', async () => {
    const cli = ['--import', 'tsx', 'src/adapters/tickets/mint-cli.ts'];
    const stdout = await spawnText(process.execPath, [
      ...cli,
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
      userName: `o'brien & co`,
    });
    fresh(codec.open((await spawnText(process.execPath, [...cli, '--user', 'alice'])).trim()), 'alice', '');

    for (const [args, secret, message] of [
      [['--user', 'alice'], '', /MFT_TICKET_SECRET is not set/],
      [['--user', 'alice'], 'too-short', /MFT_TICKET_SECRET must be at least 16 characters/],
      [[], SECRET, /--user is required/],
      [['--user', 'alice', '--bogus'], SECRET, /usage: mint-ticket/],
      [['--user', 'alice', '--timestamp', 'yesterday'], SECRET, /--timestamp/],
      [['--user', ''], SECRET, /userName must be/],
    ] as const) {
      await assert.rejects(spawnText(process.execPath, [...cli, ...args], secret), (error: unknown) => {
        const failure = error as { code?: number; stdout?: string; stderr?: string };
        assert.equal(failure.code, 2);
        assert.equal(failure.stdout, '');
        assert.match(failure.stderr ?? '', message);
        assert.equal((failure.stderr ?? '').trim().split('\n').length, 1, 'one line');
        return true;
      });
    }
  });

  it('npm run mint-ticket runs the CLI', async () => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const stdout = await spawnText(npm, ['run', '--silent', 'mint-ticket', '--', '--user', 'carol']);
    fresh(codec.open(stdout.trim()), 'carol', '');
  });
});
