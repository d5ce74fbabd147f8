/**
 * The auditor console in a real browser (Debian's chromium, headless, through playwright-core):
 * keyboard sign-in, a live row appearing after a real OpenSSH sftp upload, the sessions list
 * filtered and paged, a session's timeline, audit search with filters, CSV and NDJSON export
 * downloads, log verification and user administration. A path holding markup must show as text.
 * With SLUICE_CONSOLE_SCREENSHOTS=<folder> it saves screenshots of the main pages there
 * (npm run console:screenshots writes docs/console/).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { openSshBatch } from '../support/sftp-clients.js';
import {
  ADMIN_PASSWORD,
  adminSession,
  call,
  createUser,
  startTestSluice,
  type TestSluice,
  viewsCaughtUp,
} from '../support/sluice.js';
import { launchChromium } from './browser.js';

const PASSWORD = 'ivy-password-1';
const FOLDER = '<script>alert(1)<';
/** A path whose text is markup: the folder above and the file `script>.txt` in it. */
const HOSTILE = `/${FOLDER}/script>.txt`;
/** A user string a spreadsheet would run as a formula. */
const FORMULA = '=HYPERLINK("mailto:x@evil.example")';

let t: TestSluice;
let browser: Browser;
let page: Page;
let work: string;
let ivyId: number;
const problems: string[] = [];
const shots = process.env.SLUICE_CONSOLE_SCREENSHOTS;

async function screenshot(name: string): Promise<void> {
  if (shots) await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

// Expressions evaluated in the page (this project's TypeScript knows no DOM types).
const focused = () => page.evaluate<string | undefined>('document.activeElement?.id');
const storedToken = async () =>
  (await page.evaluate<string | null>("sessionStorage.getItem('sluice.token')")) ?? '';

const navLinks = () =>
  page.getByRole('navigation', { name: 'Console pages' }).getByRole('link').allTextContents();

async function signIn(userName: string, password: string): Promise<void> {
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByLabel('User name or e-mail address').fill(userName);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** Clicks an export button; resolves with the downloaded file's name and text. */
async function downloaded(label: string): Promise<{ name: string; text: string }> {
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: label }).click(),
  ]);
  const file = path.join(work, download.suggestedFilename());
  await download.saveAs(file);
  return { name: download.suggestedFilename(), text: await readFile(file, 'utf8') };
}

/** The caption of the page's results table (it says the page number and rows shown). */
const caption = () => page.locator('main table caption').first();

before(async () => {
  t = await startTestSluice();
  const admin = await adminSession(t.base);
  ivyId = await createUser(t.base, admin, {
    userName: 'ivy',
    emailAddress: 'ivy@example.com',
    password: PASSWORD,
    permissions: [{ path: '/', permissions: ['list', 'download', 'upload', 'overwrite', 'mkdir'] }],
  });
  // Two sessions of ivy's besides the SFTP one to come: three in all, for paging by two.
  for (let i = 0; i < 2; i++) {
    const res = await call(t.base, 'POST', '/api/v1/sessions/open-immutable', {
      body: { userName: 'ivy', password: PASSWORD, applicationId: 2, clientVersion: `portal ${i}` },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }
  work = await mkdtemp(path.join(os.tmpdir(), 'sluice-console-'));
  await writeFile(path.join(work, 'report.txt'), 'quarterly numbers\n');
  browser = await launchChromium();
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1400, height: 900 } });
  page = await context.newPage();
  page.on('dialog', (dialog) => {
    problems.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // Refused calls (a wrong password, a bad filter) are the browser's own notes, not problems;
    // anything else, a refusal by the Content-Security-Policy first of all, is.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
      problems.push(`console: ${message.text()}`);
  });
});

after(async () => {
  await browser?.close();
  await t?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the auditor console in chromium', () => {
  it('is served with a strict Content-Security-Policy', async () => {
    const response = await page.goto(`${t.base}/console`);
    assert.equal(response?.status(), 200);
    const csp = response?.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const missing = await call(t.base, 'GET', '/console/nothing.js');
    assert.equal(missing.status, 404);
  });

  it('refuses a wrong password, then signs in with the keyboard alone', async () => {
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await screenshot('sign-in');
    const typeInto = async (id: string, text: string) => {
      for (let i = 0; i < 10 && (await focused()) !== id; i++) await page.keyboard.press('Tab');
      assert.equal(await focused(), id, `Tab reaches #${id}`);
      await page.keyboard.press('ControlOrMeta+a');
      await page.keyboard.type(text);
    };
    await typeInto('signin-user', 'admin');
    await typeInto('signin-password', 'not the password');
    await page.keyboard.press('Enter');
    await page.getByText(/Sign-in refused/).waitFor();
    await typeInto('signin-user', 'admin');
    await typeInto('signin-password', ADMIN_PASSWORD);
    await page.keyboard.press('Enter');
    await page.getByRole('navigation', { name: 'Console pages' }).waitFor();
    assert.match((await page.locator('#who').textContent()) ?? '', /^admin \(admin, auditor, impersonate\)/);
    await page.getByRole('heading', { name: 'Sessions', exact: true }).waitFor();
    // The token the API returned, kept for this tab only.
    assert.match(await storedToken(), /^sluice_/);
  });

  it('shows a live row after a real SFTP upload, its markup as text', async () => {
    await page.getByRole('link', { name: 'Live tail' }).click();
    await page.getByText(/Following new events after position/).waitFor();
    const result = await openSshBatch(t.sluice.sftpPort, 'ivy', { password: PASSWORD }, [
      `mkdir "${FOLDER}"`,
      `put ${work}/report.txt "${FOLDER}/script>.txt"`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    const row = page.locator('main tbody tr', { hasText: 'file.upload' });
    await row.waitFor();
    assert.equal(await row.locator('td.path').textContent(), HOSTILE);
    assert.equal(await page.locator('main tbody script').count(), 0, 'no script element made from data');
    assert.equal(await page.locator('main tbody').getAttribute('aria-live'), 'polite');
    await screenshot('live');
  });

  it('lists sessions filtered by user and paged by two', async () => {
    await viewsCaughtUp(t);
    await page.getByRole('link', { name: 'Sessions' }).click();
    await page.getByLabel('User id').fill(String(ivyId));
    await page.getByLabel('Per page').fill('2');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('Sessions — page 1, 2 shown').waitFor();
    const users = await page.locator('main tbody tr td:nth-child(3)').allInnerTexts();
    assert.deepEqual(users, [`ivy (#${ivyId})`, `ivy (#${ivyId})`]);
    await screenshot('sessions');
    await page.getByRole('link', { name: 'Next page' }).click();
    await page.getByText('Sessions — page 2, 1 shown').waitFor();
    await page.getByText('Last page').waitFor();
    await page.getByRole('link', { name: 'First page' }).click();
    await page.getByText('Sessions — page 1, 2 shown').waitFor();
    // The newest session is the SFTP one, with its upload.
    assert.equal(await page.locator('main tbody tr').first().locator('td:nth-child(8)').textContent(), '1');
  });

  it('opens a session’s timeline', async () => {
    await page.locator('main tbody tr').first().getByRole('link').click();
    await page.getByRole('heading', { name: /^Session [0-9a-f-]{36}$/ }).waitFor();
    await caption().filter({ hasText: 'Events of this session' }).waitFor();
    const operations = await page.locator('main tbody tr td:nth-child(3)').allInnerTexts();
    assert.equal(operations[0], 'session.open');
    for (const op of ['directory.create', 'file.upload'])
      assert.ok(operations.includes(op), operations.join());
    assert.equal(await page.locator('main tbody td.path', { hasText: 'script>.txt' }).textContent(), HOSTILE);
    await screenshot('timeline');
    // As the log stood when the folder was made: the upload not yet there.
    const made = page.locator('main tbody tr', { hasText: 'directory.create' }).locator('td:first-child');
    await page.getByLabel('As of position').fill((await made.textContent()) ?? '');
    await page.getByRole('button', { name: 'Show' }).click();
    await caption().filter({ hasText: 'page 1, 3 shown' }).waitFor();
    assert.deepEqual(await page.locator('main tbody tr td:nth-child(3)').allTextContents(), [
      'session.open',
      'connection.open',
      'directory.create',
    ]);
  });

  it('searches the audit with filters; a bad filter gets a clear error', async () => {
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByLabel('Operations').selectOption(['file.upload']);
    await page.getByLabel('User name starts with').fill('iv');
    await page.getByLabel('Path starts with').fill(`/${FOLDER}`);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('Audit events — page 1, 1 shown').waitFor();
    assert.equal(await page.locator('main tbody td.path').textContent(), HOSTILE);
    await screenshot('audit');

    await page.getByLabel('Session id').fill('not-a-session-id');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText(/Could not load: .*sessionId/).waitFor();
    await page.getByLabel('Session id').fill('');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('Audit events — page 1, 1 shown').waitFor();
  });

  it('exports the search as CSV and NDJSON downloads', async () => {
    const csv = await downloaded('Export CSV');
    assert.match(csv.name, /^audit-.*\.csv$/);
    const lines = csv.text.trimEnd().split('\r\n');
    assert.equal(lines.length, 2, csv.text);
    assert.match(lines[0]!, /^position,/);
    assert.ok(lines[1]!.includes(HOSTILE) && lines[1]!.includes('file.upload'), lines[1]);
    const ndjson = await downloaded('Export NDJSON');
    const rows = ndjson.text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      rows.map((r) => [r.operation, r.path, r.userName]),
      [['file.upload', HOSTILE, 'ivy']],
    );
  });

  it('exports CSV spreadsheet-safe when asked, as recorded otherwise', async () => {
    const opened = await call(t.base, 'POST', '/api/v1/sessions/open-immutable-user-string', {
      body: {
        userName: 'ivy',
        password: PASSWORD,
        applicationId: 2,
        clientVersion: 'portal',
        userString: FORMULA,
      },
    });
    assert.equal(opened.status, 201, JSON.stringify(opened.body));
    await viewsCaughtUp(t);
    await page.goto(`${t.base}/console/#/audit?operation=session.open&userName=ivy`);
    await page.getByText(/^Audit events — page 1, 4 shown$/).waitFor();
    const formulaCell = async () => {
      const { text } = await downloaded('Export CSV');
      const line = text.split('\r\n').find((l) => l.includes('HYPERLINK'));
      assert.ok(line, text);
      return line.match(/,"('?=HYPERLINK[^,]*)",/)?.[1];
    };
    assert.equal(await formulaCell(), '=HYPERLINK(""mailto:x@evil.example"")');
    await page.getByLabel('Spreadsheet-safe CSV').check();
    assert.equal(await formulaCell(), '\'=HYPERLINK(""mailto:x@evil.example"")');
  });

  it('verifies the log', async () => {
    await page.getByRole('link', { name: 'Log integrity' }).click();
    await page.getByText('Log key (Ed25519) id').waitFor();
    await page.getByRole('button', { name: 'Sign a tree head now' }).click();
    await page.getByRole('heading', { name: 'Signed tree head' }).waitFor();
    await page.getByRole('button', { name: 'Verify the log' }).click();
    await page.getByText('Verified: the log, the tree and every signed head agree').waitFor();
    await screenshot('integrity');
  });

  it('creates a user as an admin; a taken name gets a clear error', async () => {
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByText(/^Users — page 1/).waitFor();
    const create = async () => {
      await page.getByLabel('User name', { exact: true }).fill('audrey');
      await page.getByLabel('E-mail address').fill('audrey@example.com');
      await page.getByLabel('Password').fill('audrey-password');
      await page.getByRole('checkbox', { name: 'auditor' }).check();
      await page.getByRole('button', { name: 'Create user' }).click();
    };
    await create();
    await page.getByText(/User audrey created/).waitFor();
    await page.locator('main tbody tr', { hasText: 'audrey' }).waitFor();
    await screenshot('users');
    await create();
    await page.getByText(/New user failed/).waitFor();
    const users = await call<{ items: { userName: string; rights: string[] }[] }>(
      t.base,
      'GET',
      '/api/v1/users',
      {
        token: await adminSession(t.base),
      },
    );
    assert.deepEqual(
      users.body.items.filter((u) => u.userName === 'audrey').map((u) => u.rights),
      [['auditor']],
    );
  });

  it('registers an application and disables it as an admin', async () => {
    await page.getByRole('link', { name: 'Applications' }).click();
    await page.getByText(/^Applications — page 1/).waitFor();
    await page.getByLabel('Application id (1000 and up)').fill('1000');
    await page.getByLabel('Name').fill('Partner <b>portal</b>');
    await page.getByRole('button', { name: 'Register' }).click();
    await page.getByText('Application 1000 registered').waitFor();
    const row = page.locator('main tbody tr', { hasText: '1000' });
    assert.equal(await row.locator('td:nth-child(2)').textContent(), 'Partner <b>portal</b>');
    await screenshot('applications');
    await row.getByRole('button', { name: 'Disable Partner <b>portal</b>' }).click();
    await page.getByText('Partner <b>portal</b> disabled').waitFor();
    assert.equal(await row.locator('td:nth-child(5)').textContent(), 'no');
    const listed = await call<{ enabled: boolean }>(t.base, 'GET', '/api/v1/applications/1000', {
      token: await adminSession(t.base),
    });
    assert.equal(listed.body.enabled, false);
  });

  it('signs out, and the token no longer works', async () => {
    const token = await storedToken();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const res = await call(t.base, 'GET', '/api/v1/sessions/current', { token });
    assert.equal(res.status, 401);
    assert.deepEqual(problems, []);
  });

  it('shows an auditor no administration, and a user only her own sessions', async () => {
    await signIn('audrey', 'audrey-password');
    assert.deepEqual(await navLinks(), ['Sessions', 'Audit', 'Live tail', 'Log integrity']);
    await page.goto(`${t.base}/console/#/users`);
    await page.getByRole('heading', { name: 'Not found' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();

    await signIn('ivy', PASSWORD);
    assert.deepEqual(await navLinks(), ['Sessions', 'Audit', 'Live tail']);
    await page.getByText(/^Sessions — page 1, \d+ shown$/).waitFor();
    const users = new Set(await page.locator('main tbody tr td:nth-child(3)').allTextContents());
    assert.deepEqual([...users], [`ivy (#${ivyId})`]);
    // Asking for another user's events is the API's 403, said on the page.
    await page.goto(`${t.base}/console/#/audit?userId=1`);
    await page
      .getByText('Could not load: Only admins and auditors may see other users’ sessions and events')
      .waitFor();
  });

  it('lets go of the live stream when leaving the page (5 streams per user at most)', async () => {
    for (let i = 0; i < 7; i++) {
      await page.getByRole('link', { name: 'Live tail' }).click();
      await page.getByText(/^Following new events after position/).waitFor();
      await page.getByRole('link', { name: 'Sessions' }).click();
      await page.getByText(/^Sessions — page 1/).waitFor();
    }
  });

  it('goes back to sign-in when the session is closed elsewhere', async () => {
    const mine = await call<{ sessionId: string }>(t.base, 'GET', '/api/v1/sessions/current', {
      token: await storedToken(),
    });
    const closed = await call(t.base, 'POST', '/api/v1/sessions/close', {
      token: await adminSession(t.base),
      body: { sessionId: mine.body.sessionId },
    });
    assert.equal(closed.status, 200, JSON.stringify(closed.body));
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByText('The session was closed: sign in again').waitFor();
    assert.equal(await storedToken(), '');
    assert.deepEqual(problems, []);
  });
});
