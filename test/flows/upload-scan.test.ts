/**
 * The upload scan end to end (MFT_UPLOAD_SCAN_*, upload-scan.ts): with a scanner configured,
 * a file uploaded with OpenSSH's sftp is judged before any flow takes it. A clean one is
 * recorded (`file.scan`, success) and then moved by the flow; one holding the EICAR test string
 * is recorded as denied, removed from the user's folder, kept in MFT_DATA_DIR/quarantine under
 * its scan's delivery id, never given to the flow, and notified to the administrator's webhook
 * for failed scans. Once with the clamdscan-like shell
 * script, once with the HTTP scanner (both from test/support/scanners.ts).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commandScanner, EICAR, type HttpScanner, startHttpScanner } from '../support/scanners.js';
import { openSshBatch } from '../support/sftp-clients.js';
import { adminSession, call, startTestSluice, type TestSluice, viewsCaughtUp } from '../support/sluice.js';
import type { WebhookPeer } from '../support/webhook-peer.js';
import {
  createFolderUser,
  type Delivery,
  defineFlow,
  deliveriesOf,
  QUICK_DELIVERIES,
  settledDeliveries,
  uploadWithSftp,
  webhookNotifierWith,
} from './flow-support.js';

const PASSWORD = 'scan-test-password';
const SENDER = { name: 'sender', password: PASSWORD };

interface AuditRow {
  operation: string;
  outcome: string;
  path: string | null;
  reason: string | null;
  target: string | null;
  userId: number | null;
  applicationId: number | null;
  detail: Record<string, unknown> | null;
}

/**
 * One Sluice with the scanner `configure` gives (it may start one; `home` is where the sender's
 * files will be on disk, known once Sluice runs), a sender and a receiver, and a flow between them.
 */
function scanSuite(
  name: string,
  configure: (
    work: string,
    home: string,
  ) => Promise<{ env: Record<string, string>; stop?: () => Promise<void> }>,
) {
  describe(name, () => {
    let t: TestSluice;
    let admin: string;
    let work: string;
    let flowId: string;
    let stopScanner: (() => Promise<void>) | undefined;
    let infected: { notifierId: string; peer: WebhookPeer };
    const onDisk = (user: string, file: string) => path.join(t.dataDir, 'files', user, file);

    before(async () => {
      work = await mkdtemp(path.join(os.tmpdir(), 'sluice-scan-'));
      const home = path.join(work, 'sender-home');
      const scanner = await configure(work, home);
      stopScanner = scanner.stop;
      t = await startTestSluice({ env: { ...QUICK_DELIVERIES, ...scanner.env } });
      await symlink(path.join(t.dataDir, 'files', 'sender'), home);
      admin = await adminSession(t.base);
      const senderId = await createFolderUser(t.base, admin, 'sender', PASSWORD, ['list', 'upload', 'mkdir']);
      const receiverId = await createFolderUser(t.base, admin, 'receiver', PASSWORD, ['list', 'download']);
      const made = await openSshBatch(t.sluice.sftpPort, 'sender', { password: PASSWORD }, ['mkdir in']);
      assert.equal(made.code, 0, made.stderr);
      flowId = await defineFlow(t.base, admin, {
        name: 'scanned inbox',
        sourceUserId: senderId,
        sourceFolder: '/in',
        match: { kind: 'glob', pattern: '*' },
        target: { kind: 'user', userId: receiverId, folder: '/' },
      });
      infected = await webhookNotifierWith(t.base, admin, 'infected uploads', {
        operations: ['file.scan'],
        outcomes: ['failure'],
      });
    });

    after(async () => {
      await infected?.peer.stop();
      await t?.stop();
      await stopScanner?.();
      if (work) await rm(work, { recursive: true, force: true });
    });

    /** The scan of `file`, finished, and its `file.scan` audit row. */
    async function scanned(file: string): Promise<{ scan: Delivery; row: AuditRow }> {
      // The upload is in the views, and so is the scan it scheduled.
      await viewsCaughtUp(t);
      await viewsCaughtUp(t);
      const scans = await settledDeliveries(t.base, admin, 'kind=scan', 1);
      const scan = scans.find((d) => d.file?.path === file);
      assert.ok(scan, `a scan of ${file}`);
      await viewsCaughtUp(t);
      await viewsCaughtUp(t);
      const audit = await call<{ items: AuditRow[] }>(
        t.base,
        'GET',
        `/api/v1/audit/events?operation=file.scan&path=${encodeURIComponent(file)}&limit=50`,
        { token: admin },
      );
      assert.equal(audit.status, 200, JSON.stringify(audit.body));
      assert.equal(audit.body.items.length, 1, JSON.stringify(audit.body.items));
      const row = audit.body.items[0]!;
      assert.equal(row.target, `delivery:${scan.deliveryId}`);
      return { scan, row };
    }

    it('scans a clean upload, then the flow moves it', async () => {
      await uploadWithSftp(t.sluice.sftpPort, work, SENDER, { 'clean.csv': 'id\n1\n' }, 'in');
      const { scan, row } = await scanned('/in/clean.csv');
      assert.equal(scan.state, 'succeeded', JSON.stringify(scan));
      assert.equal(scan.causeType, 'FileUploaded');
      assert.equal(row.outcome, 'success');
      assert.equal(row.detail, null, 'nothing quarantined');
      const [moved] = await settledDeliveries(t.base, admin, `ownerId=${flowId}`, 1);
      assert.equal(moved?.state, 'succeeded', JSON.stringify(moved));
      assert.equal(moved?.causeType, 'UploadScanned', 'the flow took the file once it was found clean');
      assert.equal(moved?.file?.path, '/in/clean.csv');
      assert.equal(await readFile(onDisk('receiver', 'clean.csv'), 'utf8'), 'id\n1\n');
      assert.equal(existsSync(onDisk('sender', 'in/clean.csv')), false);
    });

    it('quarantines an upload holding the EICAR string; the flow never sees it', async () => {
      await uploadWithSftp(t.sluice.sftpPort, work, SENDER, { 'eicar.csv': EICAR }, 'in');
      const { scan, row } = await scanned('/in/eicar.csv');
      assert.equal(scan.state, 'succeeded', 'the scan itself worked');
      assert.match(scan.result ?? '', /rejected/);
      assert.equal(row.outcome, 'denied');
      assert.match(row.reason ?? '', /Eicar-Test-Signature/);
      assert.deepEqual(row.detail, { quarantinedAs: scan.deliveryId });
      assert.equal(await readFile(path.join(t.dataDir, 'quarantine', scan.deliveryId), 'utf8'), EICAR);
      assert.equal(existsSync(onDisk('sender', 'in/eicar.csv')), false, 'removed from the folder');
      const listed = await openSshBatch(t.sluice.sftpPort, 'sender', { password: PASSWORD }, ['ls -1 in']);
      assert.equal(listed.code, 0, listed.stderr);
      assert.doesNotMatch(listed.stdout, /eicar/);
      // The scan's removal is recorded, by Sluice's flows application for the sender.
      const removed = await call<{ items: AuditRow[] }>(
        t.base,
        'GET',
        `/api/v1/audit/events?operation=file.delete&path=${encodeURIComponent('/in/eicar.csv')}&limit=50`,
        { token: admin },
      );
      assert.equal(removed.body.items.length, 1, JSON.stringify(removed.body.items));
      assert.equal(removed.body.items[0]?.applicationId, 5);

      // Every event is in the views (the verdict's too): the flow has only the clean file.
      const flowDeliveries = await deliveriesOf(t.base, admin, `ownerId=${flowId}`);
      assert.deepEqual(
        flowDeliveries.map((d) => d.file?.path),
        ['/in/clean.csv'],
      );
      assert.equal(existsSync(onDisk('receiver', 'eicar.csv')), false);

      // The rejection (a failure to a filter), and only it, reached the notifier.
      const [notified] = await settledDeliveries(t.base, admin, `ownerId=${infected.notifierId}`, 1);
      assert.equal(notified?.state, 'succeeded', JSON.stringify(notified));
      assert.equal(notified?.causeType, 'UploadScanned');
      const hooks = await infected.peer.waitFor(1);
      assert.equal(hooks.length, 1, JSON.stringify(hooks));
      assert.equal(hooks[0]?.signature, 'ok');
      assert.equal(hooks[0]?.deliveryId, notified?.deliveryId);
      const { event } = JSON.parse(hooks[0]?.body ?? '') as { event: { data: Record<string, unknown> } };
      assert.equal(event.data.verdict, 'rejected');
      assert.equal(event.data.quarantinedAs, scan.deliveryId);
    });
  });
}

scanSuite('upload scan by a command (clamdscan exit codes)', async (work) => ({
  env: { MFT_UPLOAD_SCAN_COMMAND: await commandScanner(work) },
}));

scanSuite('upload scan over HTTP', async (work, home) => {
  const scanner: HttpScanner = await startHttpScanner(work, home);
  return { env: { MFT_UPLOAD_SCAN_URL: `${scanner.url}/scan` }, stop: () => scanner.stop() };
});
