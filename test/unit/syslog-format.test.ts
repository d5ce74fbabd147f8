import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NotificationError } from '../../src/adapters/notify/notification-error.js';
import {
  formatSyslog5424,
  frameOctetCounting,
  type SyslogMessage,
} from '../../src/adapters/notify/syslog-format.js';

const base: SyslogMessage = {
  facility: 'local0',
  severity: 'info',
  timestamp: new Date('2026-12-02T17:30:00.123Z'),
  hostname: 'mft1.example.com',
  appName: 'sluice',
  msgId: 'FileUploaded',
  structuredData: { deliveryId: '6f1c2a52-6c43-4a3e-9d1e-2b1e4f1f0c11', path: '/inbox/a.csv' },
  message: 'alice uploaded /inbox/a.csv',
};
const text = (m: Partial<SyslogMessage>, max?: number) =>
  formatSyslog5424({ ...base, ...m }, max).toString('utf8');
const refused = (m: Partial<SyslogMessage>, max?: number) =>
  assert.throws(
    () => formatSyslog5424({ ...base, ...m }, max),
    (e: unknown) => e instanceof NotificationError && e.code === 'bad-message' && !e.retryable,
    JSON.stringify(m),
  );

describe('RFC 5424 formatting', () => {
  it('writes the header, one sluice@32473 element and the BOM before MSG', () => {
    assert.equal(
      text({}),
      '<134>1 2026-12-02T17:30:00.123Z mft1.example.com sluice - FileUploaded ' +
        '[sluice@32473 deliveryId="6f1c2a52-6c43-4a3e-9d1e-2b1e4f1f0c11" path="/inbox/a.csv"] ' +
        '\ufeffalice uploaded /inbox/a.csv',
    );
    const bytes = formatSyslog5424(base);
    const bom = bytes.indexOf(Buffer.from([0xef, 0xbb, 0xbf]));
    assert.equal(bytes.subarray(bom + 3).toString(), base.message);
  });

  it('computes PRI from names or numbers', () => {
    assert.match(text({ facility: 'kern', severity: 'emerg' }), /^<0>1 /);
    assert.match(text({ facility: 23, severity: 7 }), /^<191>1 /);
    assert.match(text({ facility: 'auth', severity: 'warning' }), /^<36>1 /);
    for (const m of [
      { facility: 24 },
      { facility: -1 },
      { severity: 8 },
      { severity: 1.5 },
      { facility: 'x' },
    ]) {
      refused(m as Partial<SyslogMessage>);
    }
  });

  it('escapes ", \\ and ] in parameter values, and only those', () => {
    const line = text({ structuredData: { path: '/in/a"b]c\\d[e=f g' } });
    assert.ok(line.includes('[sluice@32473 path="/in/a\\"b\\]c\\\\d[e=f g"]'), line);
  });

  it('writes NILVALUE for empty header fields and empty structured data', () => {
    assert.equal(
      text({ hostname: '', appName: '', msgId: '', structuredData: {} }),
      '<134>1 2026-12-02T17:30:00.123Z - - - - - \ufeffalice uploaded /inbox/a.csv',
    );
    assert.match(text({ procId: '4242' }), / sluice 4242 FileUploaded /);
  });

  it('leaves out an empty MSG, its space and BOM with it', () => {
    const line = text({ message: '' });
    assert.ok(line.endsWith('path="/inbox/a.csv"]'), line);
    assert.ok(!line.includes('\ufeff'));
  });

  it('refuses header fields that are not printable ASCII or too long', () => {
    refused({ msgId: 'File Uploaded' });
    refused({ msgId: 'x'.repeat(33) });
    refused({ msgId: 'Fïle' });
    refused({ hostname: 'h'.repeat(256) });
    refused({ appName: 'a'.repeat(49) });
    refused({ procId: 'p'.repeat(129) });
    assert.match(text({ msgId: 'x'.repeat(32), appName: 'a'.repeat(48) }), / a{48} - x{32} /);
  });

  it('refuses parameter names the grammar forbids', () => {
    for (const name of ['a=b', 'a b', 'a]', 'a"b', '', 'n'.repeat(33), 'é']) {
      refused({ structuredData: { [name]: 'v' } });
    }
    assert.ok(text({ structuredData: { ['n'.repeat(32)]: 'v' } }).includes(`${'n'.repeat(32)}="v"`));
  });

  it('refuses a timestamp it cannot write', () => {
    refused({ timestamp: new Date(Number.NaN) });
    refused({ timestamp: new Date('+010000-01-01T00:00:00Z') });
  });

  it('cuts a long MSG at a character boundary to fit the limit', () => {
    const header = formatSyslog5424({ ...base, message: '' }).length;
    const max = header + 1 + 3 + 10;
    // 'é' is two octets: ten octets of room hold five of them, eleven only five too.
    const cut = formatSyslog5424({ ...base, message: 'é'.repeat(100) }, max);
    assert.equal(cut.length, max);
    assert.ok(cut.toString().endsWith(`\ufeff${'é'.repeat(5)}`));
    const odd = formatSyslog5424({ ...base, message: 'é'.repeat(100) }, max + 1);
    assert.equal(odd.length, max);
    assert.equal(odd.toString().includes('\ufffd'), false);
    // Within the limit nothing is cut.
    assert.equal(formatSyslog5424(base, 8192).toString().endsWith(base.message), true);
  });

  it('refuses a header and structured data longer than the limit', () => {
    refused({ structuredData: { path: 'p'.repeat(9000) } });
    refused({}, 100);
  });

  it('frames by octet count, not characters', () => {
    assert.equal(frameOctetCounting(Buffer.from('héllo')).toString(), '6 héllo');
  });
});
