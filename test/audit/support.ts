/**
 * Shared set-up for the audit and session view tests: a Sluice in this process, users and
 * sessions made through the HTTP API, and file and connection events appended straight to the
 * event store with the metadata a protocol front end records (until the SFTP and HTTP file
 * front ends land), through a store of its own as another process would.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { AppendNotifier } from '../../src/adapters/eventstore/postgres/append-notifier.js';
import { PostgresEventStore } from '../../src/adapters/eventstore/postgres/postgres-event-store.js';
import type { ReadModel } from '../../src/adapters/readmodel/schema.js';
import { type DomainEvent, toNewEvent } from '../../src/domain/events/catalogue.js';
import type { Actor } from '../../src/domain/events/envelope.js';
import { adminSession, call, type TestSluice } from '../support/sluice.js';

export const PASSWORD = 'user-password-1';

export interface Opened {
  readonly sessionId: string;
  readonly token: string;
  readonly userId: number;
  readonly position: number;
}

export interface World {
  readonly t: TestSluice;
  /** An admin session (immutable, on the admin application). */
  readonly admin: string;
  /** Signs the admin in again (after the fake clock expired its session); resolves with the position. */
  signInAdmin(): Promise<number>;
  readonly store: PostgresEventStore;
  /** Appends one event to `stream` (default: a stream of its own); resolves with its position. */
  append(event: DomainEvent, actor: Actor, stream?: string): Promise<number>;
  createUser(userName: string, extra?: Record<string, unknown>): Promise<number>;
  open(userName: string, applicationId?: number): Promise<Opened>;
  openImmutable(userName: string, applicationId: number): Promise<Opened>;
  openUserString(userName: string, applicationId: number, userString: string): Promise<Opened>;
  /** The actor a protocol front end records for events of `session`. */
  actorOf(session: Opened, extra?: Partial<Actor>): Promise<Actor>;
  /** Waits until every view includes `position`. */
  settle(position: number): Promise<void>;
  close(): Promise<void>;
}

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export async function createWorld(t: TestSluice): Promise<World> {
  let admin = await adminSession(t.base);
  const handle = t.database.open<ReadModel>({ max: 4 });
  const store = new PostgresEventStore({ db: handle.db, notifier: new AppendNotifier(t.database.url) });
  const sessions = new Map<
    string,
    { userId: number; applicationId: number; clientIp: string; userString: string | null }
  >();

  const remember = async (opened: Opened) => {
    const me = await call<{ applicationId: number; clientIp: string; userString: string | null }>(
      t.base,
      'GET',
      '/api/v1/sessions/current',
      { token: opened.token },
    );
    assert.equal(me.status, 200, JSON.stringify(me.body));
    sessions.set(opened.sessionId, { userId: opened.userId, ...me.body });
    return opened;
  };
  const opened = async (path: string, body: Record<string, unknown>) => {
    const res = await call<Opened>(t.base, 'POST', path, { body });
    assert.ok(res.status === 201 || res.status === 200, `${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return remember(res.body);
  };

  return {
    t,
    get admin() {
      return admin;
    },
    async signInAdmin() {
      admin = await adminSession(t.base);
      const me = await call<{ sessionId: string }>(t.base, 'GET', '/api/v1/sessions/current', {
        token: admin,
      });
      assert.equal(me.status, 200);
      const { pool } = t.database.open({ max: 1 });
      const row = await pool.query(
        "SELECT global_position FROM events WHERE type = 'SessionOpened' AND data->>'sessionId' = $1",
        [me.body.sessionId],
      );
      return Number(row.rows[0].global_position);
    },
    store,
    async append(event, actor, stream) {
      const metadata = { envelopeVersion: 1 as const, correlationId: randomUUID(), actor };
      const result = await store.appendToStream(stream ?? `test-${randomUUID()}`, [
        toNewEvent(event, metadata),
      ]);
      return result.lastPosition;
    },
    async createUser(userName, extra = {}) {
      const res = await call<{ userId: number }>(t.base, 'POST', '/api/v1/users', {
        token: admin,
        body: { userName, emailAddress: `${userName}@example.com`, password: PASSWORD, ...extra },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.userId;
    },
    open: (userName, applicationId = 1000) =>
      opened('/api/v1/sessions/open', {
        userName,
        password: PASSWORD,
        applicationId,
        clientVersion: 'Portal 4.2',
      }),
    openImmutable: (userName, applicationId) =>
      opened('/api/v1/sessions/open-immutable', {
        userName,
        password: PASSWORD,
        applicationId,
        clientVersion: 'sftp-client 9',
      }),
    openUserString: (userName, applicationId, userString) =>
      opened('/api/v1/sessions/open-immutable-user-string', {
        userName,
        password: PASSWORD,
        applicationId,
        clientVersion: 'Gateway 1',
        userString,
      }),
    async actorOf(session, extra = {}) {
      const known = sessions.get(session.sessionId);
      assert.ok(known, 'a session opened through this world');
      return {
        userId: known.userId,
        applicationId: known.applicationId,
        sessionId: session.sessionId,
        clientIp: known.clientIp,
        clientPort: 50_022,
        ...(known.userString === null ? {} : { userString: known.userString }),
        ...extra,
      };
    },
    async settle(position) {
      // A hang guard, not a speed check: a loaded machine may take a while for 10,000 events.
      assert.ok(await t.sluice.runner.waitForPosition(position, 180_000), `views reach ${position}`);
    },
    close: () => store.close(),
  };
}

/** A completed upload, as the file-operations core records it. */
export function uploaded(path: string, content: string, protocol: 'sftp' | 'http' = 'sftp'): DomainEvent {
  return {
    type: 'FileUploaded',
    data: { protocol, path, size: Buffer.byteLength(content), sha256: sha256(content), overwrote: false },
  };
}

export function downloaded(path: string, content: string, protocol: 'sftp' | 'http' = 'sftp'): DomainEvent {
  return {
    type: 'FileDownloaded',
    data: {
      protocol,
      path,
      bytesSent: Buffer.byteLength(content),
      whole: true,
      offset: 0,
      sha256: sha256(content),
    },
  };
}

export function deleted(path: string, size: number | null): DomainEvent {
  return { type: 'FileDeleted', data: { protocol: 'sftp', path, size } };
}

export function renamed(from: string, to: string): DomainEvent {
  return { type: 'FileRenamed', data: { protocol: 'sftp', from, to, overwrote: false } };
}

export function denied(path: string, operation: 'download' | 'upload' | 'delete' = 'download'): DomainEvent {
  return { type: 'AccessDenied', data: { protocol: 'sftp', operation, path, reason: 'no permission' } };
}

export function aborted(path: string, bytesReceived: number): DomainEvent {
  return {
    type: 'UploadAborted',
    data: { protocol: 'sftp', path, bytesReceived, reason: 'connection lost' },
  };
}

export function connectionOpened(session: Opened, connectionId: string = randomUUID()): DomainEvent {
  return {
    type: 'ConnectionOpened',
    data: {
      connectionId,
      protocol: 'sftp',
      sessionId: session.sessionId,
      userId: session.userId,
      remoteAddress: '127.0.0.1',
      remotePort: 50_022,
      clientSoftware: 'SSH-2.0-OpenSSH_9.6',
      authMethod: 'password',
      keyFingerprint: null,
    },
  };
}
