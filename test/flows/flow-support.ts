/** Helpers of the flow and notification tests: uploads, flows and waiting for deliveries over the API. */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from '../support/free-port.js';
import type { OpenSshServer } from '../support/openssh-server.js';
import { openSshBatch } from '../support/sftp-clients.js';
import { call, createUser, type TestSluice } from '../support/sluice.js';
import { startWebhookPeer, type WebhookPeer } from '../support/webhook-peer.js';

export interface Delivery {
  deliveryId: string;
  kind: string;
  ownerId: string;
  state: string;
  attempts: number;
  causeType: string;
  file: { userId: number; path: string; size: number; sha256: string } | null;
  lastError: string | null;
  result: string | null;
}

/** Settings that make deliveries quick to observe: polled every 50 ms, retried after 50 ms, 2 attempts. */
export const QUICK_DELIVERIES = {
  MFT_DELIVERY_POLL_MS: '50',
  MFT_DELIVERY_RETRY_MS: '50',
  MFT_DELIVERY_RETRY_MAX_MS: '200',
  MFT_DELIVERY_MAX_ATTEMPTS: '2',
};

export async function deliveriesOf(base: string, token: string, query: string): Promise<Delivery[]> {
  const items: Delivery[] = [];
  let cursor: string | null = null;
  do {
    const res: { status: number; body: { items: Delivery[]; nextCursor: string | null } } = await call<{
      items: Delivery[];
      nextCursor: string | null;
    }>(base, 'GET', `/api/v1/deliveries?limit=500&${query}${cursor ? `&cursor=${cursor}` : ''}`, { token });
    if (res.status !== 200) throw new Error(`deliveries: ${res.status} ${JSON.stringify(res.body)}`);
    items.push(...res.body.items);
    cursor = res.body.nextCursor;
  } while (cursor);
  return items;
}

/**
 * Waits until `count` deliveries matching `query` are all finished (succeeded or dead);
 * resolves with them. Throws with what it saw after `timeoutMs`.
 */
export async function settledDeliveries(
  base: string,
  token: string,
  query: string,
  count: number,
  timeoutMs = 60_000,
): Promise<Delivery[]> {
  const deadline = Date.now() + timeoutMs;
  let seen: Delivery[] = [];
  while (Date.now() < deadline) {
    seen = await deliveriesOf(base, token, query).catch(() => seen);
    if (seen.length >= count && seen.every((d) => d.state === 'succeeded' || d.state === 'dead')) return seen;
    await delay(100);
  }
  throw new Error(`expected ${count} settled deliveries for ${query}, saw ${JSON.stringify(seen, null, 1)}`);
}

export async function defineFlow(
  base: string,
  token: string,
  body: Record<string, unknown>,
): Promise<string> {
  const res = await call<{ flowId: string }>(base, 'POST', '/api/v1/flows', { token, body });
  if (res.status !== 201) throw new Error(`flow: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.flowId;
}

/** Uploads `files` (name → content, written under `work` first) into `folder` with OpenSSH's sftp. */
export async function uploadWithSftp(
  sftpPort: number,
  work: string,
  user: { name: string; password: string },
  files: Record<string, string>,
  folder: string,
): Promise<void> {
  const batch: string[] = [];
  for (const [name, content] of Object.entries(files)) {
    const local = path.join(work, `${user.name}-${name}`);
    await writeFile(local, content);
    batch.push(`put ${local} ${folder}/${name}`);
  }
  const result = await openSshBatch(sftpPort, user.name, { password: user.password }, batch);
  assert.equal(result.code, 0, result.stderr);
}

/** Creates `userName` (address `<userName>@example.com`) with `permissions` on its whole folder. */
export function createFolderUser(
  base: string,
  token: string,
  userName: string,
  password: string,
  permissions: string[],
): Promise<number> {
  return createUser(base, token, {
    userName,
    emailAddress: `${userName}@example.com`,
    password,
    permissions: [{ path: '/', permissions }],
  });
}

export interface DefinedNotifier {
  notifierId: string;
  signingSecret: string | null;
  position: number;
}

export async function defineNotifierWith(
  base: string,
  token: string,
  body: Record<string, unknown>,
): Promise<DefinedNotifier> {
  const res = await call<DefinedNotifier>(base, 'POST', '/api/v1/notifiers', { token, body });
  if (res.status !== 201) throw new Error(`notifier: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/**
 * A webhook notifier and its receiver (the caller stops it): the URL is named first, on a free
 * port, and the receiver started there with the secret the definition returned.
 */
export async function webhookNotifierWith(
  base: string,
  token: string,
  name: string,
  filter: Record<string, unknown>,
  pathname = '/hook',
): Promise<{ notifierId: string; peer: WebhookPeer }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}${pathname}`;
  const defined = await defineNotifierWith(base, token, { name, filter, channel: { kind: 'webhook', url } });
  assert.match(defined.signingSecret ?? '', /^whsec_/);
  return { notifierId: defined.notifierId, peer: await startWebhookPeer(defined.signingSecret!, port) };
}

const pools = new WeakMap<TestSluice, ReturnType<TestSluice['database']['open']>['pool']>();

/** How many flow and notifier secrets the credential store holds (of `ownerId`, when given). */
export async function storedSecrets(t: TestSluice, ownerId?: string): Promise<number> {
  let pool = pools.get(t);
  if (!pool) {
    pool = t.database.open({ max: 1 }).pool;
    pools.set(t, pool);
  }
  const { rows } =
    ownerId === undefined
      ? await pool.query('SELECT count(*) AS n FROM reaction_secrets')
      : await pool.query('SELECT count(*) AS n FROM reaction_secrets WHERE owner_id = $1', [ownerId]);
  return Number(rows[0].n);
}

/** A flow's target on the test sshd (key sign-in), with `changes` over it. */
export function sshdFlowTarget(sshd: OpenSshServer, changes: Record<string, unknown> = {}) {
  return {
    kind: 'sftp',
    host: '127.0.0.1',
    port: sshd.port,
    username: sshd.username,
    hostKeySha256: sshd.hostKeySha256,
    directory: sshd.root,
    auth: 'key',
    ...changes,
  };
}
