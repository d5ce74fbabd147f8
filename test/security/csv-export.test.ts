/**
 * CSV export and spreadsheet formulas (OWASP CSV injection): with `spreadsheetSafe=true`, text
 * cells a spreadsheet would run (starting with = + - @, tab or CR) get a leading single quote;
 * without it the export holds values exactly as recorded. The formula travels as a user string
 * and as an attempted user name, both written to the audit by the client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { curl } from '../support/curl.js';
import { adminSession, call, startTestSluice, type TestSluice } from '../support/sluice.js';

let t: TestSluice;
let admin: string;
let position = 0;
const FORMULA = '=HYPERLINK("mailto:x@evil.example","click")';
const PASSWORD = 'csv-export-password';

const exportCsv = (query: string) =>
  curl([
    '-H',
    `authorization: Bearer ${admin}`,
    `${t.base}/api/v1/audit/export?format=csv&minPosition=${position}&${query}`,
  ]);

before(async () => {
  t = await startTestSluice();
  admin = await adminSession(t.base);
  await call(t.base, 'POST', '/api/v1/users', {
    token: admin,
    body: { userName: 'eve', emailAddress: 'eve@example.com', password: PASSWORD },
  });
  // A session whose user string is a formula; a file uploaded in it is recorded with it.
  const opened = await call<{ token: string; position: number }>(
    t.base,
    'POST',
    '/api/v1/sessions/open-immutable-user-string',
    {
      body: {
        userName: 'eve',
        password: PASSWORD,
        applicationId: 2,
        clientVersion: 'x',
        userString: FORMULA,
      },
    },
  );
  assert.equal(opened.status, 201, JSON.stringify(opened.body));
  const put = await curl([
    '-X',
    'PUT',
    '-H',
    `authorization: Bearer ${opened.body.token}`,
    '--data-binary',
    'payload',
    `${t.base}/api/v1/files/${encodeURIComponent(FORMULA)}.txt`,
  ]);
  assert.equal(put.status, 201, put.body);
  // A sign-in attempt under a formula for a name.
  const failed = await call(t.base, 'POST', '/api/v1/sessions/open', {
    body: { userName: '@SUM(1+1)', password: 'wrong-password', applicationId: 2, clientVersion: 'x' },
  });
  assert.equal(failed.status, 401);
  const { pool } = t.database.open({ max: 1 });
  position = Number((await pool.query('SELECT max(global_position) AS p FROM events')).rows[0].p);
  await pool.end();
});

after(async () => t.stop());

describe('CSV export, spreadsheetSafe', () => {
  it('without the option, cells are exported as recorded', async () => {
    const res = await exportCsv('');
    assert.equal(res.status, 200, res.body);
    assert.ok(res.body.includes(',"=HYPERLINK(""mailto:x@evil.example"",""click"")",'), res.body);
    assert.ok(res.body.includes(',@SUM(1+1),'), res.body);
  });

  it('with spreadsheetSafe=true, formula cells get a leading quote', async () => {
    const res = await exportCsv('spreadsheetSafe=true');
    assert.equal(res.status, 200, res.body);
    assert.ok(res.body.includes(`,"'=HYPERLINK(""mailto:x@evil.example"",""click"")",`), res.body);
    assert.ok(res.body.includes(",'@SUM(1+1),"), res.body);
    const cells = res.body.split(/[,\r\n]/);
    assert.ok(!cells.some((c) => /^[=+@-]/.test(c)), 'no cell starts with a formula trigger');
    // Paths begin with "/": left alone.
    assert.ok(res.body.includes('/=HYPERLINK('), res.body);
  });

  it('the option is in the OpenAPI document', async () => {
    const doc = await curl([`${t.base}/openapi.json`]);
    const parameters = doc.json<{
      paths: Record<string, { get: { parameters: Array<{ name: string }> } }>;
    }>().paths['/api/v1/audit/export']!.get.parameters;
    assert.ok(parameters.some((p) => p.name === 'spreadsheetSafe'));
  });
});
