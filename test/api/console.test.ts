/**
 * The console's files over HTTP, with curl: every file under a strict Content-Security-Policy
 * with the right type, the API's own lists in vocabulary.js, nothing else reachable under
 * /console (unknown names, other source files, traversal), nothing of it in the OpenAPI
 * document, and the client's sources free of the calls that would parse data as HTML or code.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CONSOLE_CSP } from '../../src/api/console/plugin.js';
import { auditOperations, auditOutcomes } from '../../src/projections/audit/rows.js';
import { curl } from '../support/curl.js';
import { startTestSluice, type TestSluice } from '../support/sluice.js';

const STATIC = path.join(import.meta.dirname, '../../src/api/console/static');
let t: TestSluice;

before(async () => {
  t = await startTestSluice();
});

after(async () => {
  await t?.stop();
});

describe('the console over HTTP', () => {
  it('sends /console to /console/, the page under the policy', async () => {
    const redirect = await curl([`${t.base}/console`]);
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.location, '/console/');
    const page = await curl([`${t.base}/console/`]);
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(page.headers['content-security-policy'], CONSOLE_CSP);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
    assert.match(page.body, /<script type="module" src="\/console\/app\.js"><\/script>/);
    // No inline script or style: every <script> has a src, no style attributes or elements.
    assert.doesNotMatch(page.body, /<script(?![^>]*\ssrc=)/);
    assert.doesNotMatch(page.body, /<style|\sstyle=|\son[a-z]+=/i);
  });

  it('serves every file of static/ with its type and the policy', async () => {
    const names = await readdir(STATIC);
    assert.ok(names.length >= 10, names.join());
    for (const name of names) {
      const res = await curl([`${t.base}/console/${name}`]);
      assert.equal(res.status, 200, name);
      assert.equal(res.body, await readFile(path.join(STATIC, name), 'utf8'), name);
      assert.equal(res.headers['content-security-policy'], CONSOLE_CSP, name);
      const type = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html' }[path.extname(name)];
      assert.equal(res.headers['content-type'], `${type}; charset=utf-8`, name);
    }
  });

  it('hands the client the API’s own lists', async () => {
    const res = await curl([`${t.base}/console/vocabulary.js`]);
    assert.equal(res.status, 200);
    const lists = Object.fromEntries(
      [...res.body.matchAll(/^export const (\w+) = (.*);$/gm)].map(([, name, json]) => [
        name,
        JSON.parse(json!),
      ]),
    );
    assert.deepEqual(lists, {
      operations: [...auditOperations],
      outcomes: [...auditOutcomes],
      sessionKinds: ['replaceable', 'immutable', 'impersonated', 'user-string'],
      sessionStates: ['open', 'ended', 'closed', 'replaced', 'expired'],
    });
  });

  it('serves nothing else under /console', async () => {
    for (const name of [
      'nothing.js',
      'plugin.ts',
      '..%2Fplugin.ts',
      '%2e%2e%2fplugin.ts',
      'static',
      '.',
      'index.htm',
    ]) {
      const res = await curl(['--path-as-is', `${t.base}/console/${name}`]);
      assert.equal(res.status, 404, name);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8', name);
    }
    const post = await curl(['-X', 'POST', `${t.base}/console/app.js`]);
    assert.equal(post.status, 404);
  });

  it('is not part of the API’s OpenAPI document', async () => {
    const res = await curl([`${t.base}/openapi.json`]);
    const paths = Object.keys(res.json<{ paths: Record<string, unknown> }>().paths);
    assert.ok(paths.includes('/api/v1/audit/events'));
    assert.deepEqual(
      paths.filter((p) => p.startsWith('/console')),
      [],
    );
  });

  it('never parses data as HTML or code in the client', async () => {
    for (const name of await readdir(STATIC)) {
      if (!name.endsWith('.js')) continue;
      const source = await readFile(path.join(STATIC, name), 'utf8');
      assert.doesNotMatch(
        source,
        /innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/,
        name,
      );
    }
  });
});
