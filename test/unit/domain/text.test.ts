/**
 * The one rule for well-formed text: the same answer with and without the regular
 * expression `u` flag (ajv compiles schema patterns with it, TypeBox without), the escaped
 * form that goes on record, and virtual paths and event schemas that share the rule.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { InvalidEvent, validateEvent } from '../../../src/domain/events/catalogue.js';
import { Text } from '../../../src/domain/events/schema-helpers.js';
import { InvalidPath, resolveVirtualPath } from '../../../src/domain/files/virtual-path.js';
import {
  escapeText,
  firstIllFormed,
  isWellFormedText,
  MULTILINE_PATTERN,
  SECRET_PATTERN,
  TEXT_PATTERN,
  truncateText,
} from '../../../src/domain/text.js';

const good = ['', 'alice', 'Ünïcødé', '日本語', '😀 grinning', '\u{10ffff}', 'a\u00a0b', '\ufffd', '\uffff'];
const bad = [
  '\ud800',
  'x\udc00',
  '\udc00\ud800',
  '😀\ud83d',
  '\0',
  'a\u0001b',
  'tab\there',
  'line\nbreak',
  'SSH-2.0-x\x7f',
  'c1\u0085',
  '\u009f',
];

describe('well-formed text', () => {
  for (const flags of ['', 'u']) {
    it(`the single-line pattern means the same with flags "${flags}"`, () => {
      const pattern = new RegExp(TEXT_PATTERN, flags);
      for (const value of good) assert.equal(pattern.test(value), true, JSON.stringify(value));
      for (const value of bad) assert.equal(pattern.test(value), false, JSON.stringify(value));
    });
    it(`multi-line text allows tab, LF and CR, nothing else, with flags "${flags}"`, () => {
      const pattern = new RegExp(MULTILINE_PATTERN, flags);
      for (const value of ['a\tb', 'a\r\nb', ...good]) assert.equal(pattern.test(value), true);
      for (const value of ['\0', '\u000b', '\u001b[31m', '\x7f', '\u0085', '\ud800', 'a\udfff'])
        assert.equal(pattern.test(value), false, JSON.stringify(value));
    });
    it(`secrets refuse only NUL and lone surrogates, with flags "${flags}"`, () => {
      const pattern = new RegExp(SECRET_PATTERN, flags);
      assert.equal(pattern.test('pass\tword\x7f😀'), true);
      for (const value of ['\0', 'pw\ud800', '\udc00']) assert.equal(pattern.test(value), false);
    });
  }

  it('agrees with String.prototype.isWellFormed on surrogates over random strings', () => {
    let seed = 7;
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed;
    };
    for (let n = 0; n < 2000; n++) {
      const units = Array.from({ length: next() % 8 }, () =>
        next() % 3 === 0 ? 0xd800 + (next() % 0x800) : 0x20 + (next() % 0x50),
      );
      const value = String.fromCharCode(...units);
      const wellFormed = (value as string & { isWellFormed(): boolean }).isWellFormed();
      assert.equal(isWellFormedText(value), wellFormed, JSON.stringify(value));
    }
  });

  it('truncates in code points, never inside a pair', () => {
    assert.equal(truncateText('😀😀😀', 2), '😀😀');
    assert.equal(truncateText('a😀b', 2), 'a😀');
    assert.equal(truncateText('short', 10), 'short');
  });

  it('names the first offending character', () => {
    assert.equal(firstIllFormed('ok 😀'), undefined);
    assert.equal(firstIllFormed('ab\ud800c'), 'U+D800');
    assert.equal(firstIllFormed('x\x7f'), 'U+007F');
    assert.equal(firstIllFormed('a\nb'), 'U+000A');
    assert.equal(firstIllFormed('a\nb', { multiline: true }), undefined);
  });

  it('escapes controls, lone surrogates and backslashes into well-formed text, cut between characters', () => {
    assert.equal(escapeText('SSH-2.0-x\x7f', 100), 'SSH-2.0-x\\x7f');
    assert.equal(escapeText('a\ud800b\udc00', 100), 'a\\ud800b\\udc00');
    assert.equal(escapeText('C:\\dir\0', 100), 'C:\\\\dir\\x00');
    assert.equal(escapeText('😀😀', 3), '😀', 'a pair is never split');
    assert.equal(escapeText('ab\x01', 4), 'ab', 'an escape is never split');
    assert.equal(escapeText('clean', 100), 'clean');
    for (const value of bad) assert.equal(isWellFormedText(escapeText(value, 50)), true);
  });
});

describe('virtual paths and events share the rule', () => {
  it('a path with a control character or a lone surrogate is refused', () => {
    for (const path of ['/a\ud800', '/a\x7f', '/new\nline', '/c1\u0085', '/lone\udc00/x']) {
      assert.throws(
        () => resolveVirtualPath(path),
        (e: unknown) => e instanceof InvalidPath && e.reason === 'ill-formed',
      );
    }
    assert.equal(resolveVirtualPath('/in/😀 ü.txt'), '/in/😀 ü.txt');
  });

  it('Text counts code points, as ajv does for the routes: three astral characters fit Text(3)', () => {
    const three = TypeCompiler.Compile(Text(3, 1));
    assert.equal(three.Check('😀😀😀'), true);
    assert.equal(three.Check('😀😀😀😀'), false);
    assert.equal(three.Check(''), false);
    assert.equal(three.Check('a\ud800'), false);
    assert.deepEqual(
      JSON.parse(JSON.stringify(Text(3, 1))),
      { type: 'string', minLength: 1, maxLength: 3, pattern: TEXT_PATTERN },
      'plain JSON Schema for ajv and OpenAPI',
    );
  });

  it('an event holding a lone surrogate or a C1 control is invalid before it reaches the store', () => {
    const failed = (clientVersion: string) => ({
      type: 'SignInFailed',
      data: {
        method: 'password',
        reason: 'invalid-credentials',
        applicationId: 1,
        userName: 'alice',
        userId: null,
        clientIp: '127.0.0.1',
        clientVersion,
        at: '2026-01-01T00:00:00.000Z',
      },
    });
    assert.doesNotThrow(() => validateEvent(failed('curl 😀')));
    for (const value of ['\ud800', 'x\x85', 'SSH-2.0-x\x7f'])
      assert.throws(() => validateEvent(failed(value)), InvalidEvent);
    assert.doesNotThrow(() => validateEvent(failed(escapeText('SSH-2.0-x\x7f\ud800', 100))));
  });
});
