/**
 * The audit projection on its own: a batch is one INSERT whose rows carry names the view learnt
 * in earlier batches; `at` never decreases with the position even when recorded times step
 * back, so a time window is one range of positions and time filters stay exact.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import {
  type DomainEvent,
  type RecordedDomainEvent,
  validateEvent,
} from '../../src/domain/events/catalogue.js';
import type { Actor } from '../../src/domain/events/envelope.js';
import { queryAudit } from '../../src/projections/audit/queries.js';
import { auditProjection } from '../../src/projections/audit/write.js';
import { createHarness, type Harness } from '../projections/harness.js';

let h: Harness;
let position = 0;

function recorded(event: DomainEvent, actor: Actor, recordedAt: Date): RecordedDomainEvent {
  validateEvent(event);
  position += 1;
  return {
    ...event,
    eventId: randomUUID(),
    metadata: { envelopeVersion: 1, correlationId: randomUUID(), actor },
    streamId: `test-${position}`,
    streamRevision: 0,
    globalPosition: position,
    recordedAt,
  } as RecordedDomainEvent;
}

const apply = (events: RecordedDomainEvent[]) =>
  h.db.transaction().execute((trx) => auditProjection.apply(trx, events));

const upload = (path: string): DomainEvent => ({
  type: 'FileUploaded',
  data: { protocol: 'sftp', path, size: 1, sha256: 'a'.repeat(64), overwrote: false },
});

before(async () => {
  h = await createHarness();
});
after(() => h.dispose());

describe('the audit projection', () => {
  it('names users it learnt in earlier batches, and names tried in failed sign-ins', async () => {
    const admin: Actor = { clientIp: '192.0.2.1' };
    await apply([
      recorded(
        {
          type: 'UserCreated',
          data: {
            userId: 7,
            userName: 'Ärger',
            emailAddress: 'a@example.com',
            firstName: '',
            lastName: '',
            enabled: true,
            rights: [],
            homeFolder: '/a',
            permissions: [],
            createdBy: { kind: 'bootstrap' },
            credentialVersion: null,
          },
        },
        admin,
        new Date('2026-01-01T00:00:00Z'),
      ),
    ]);
    await apply([
      recorded(upload('/x'), { userId: 7, clientIp: '10.0.0.1' }, new Date('2026-01-01T00:00:01Z')),
      recorded(
        {
          type: 'SignInFailed',
          data: {
            method: 'password',
            reason: 'unknown-user',
            applicationId: null,
            userName: 'Mallory',
            userId: null,
            clientIp: '10.0.0.2',
            clientVersion: null,
            at: '2026-01-01T00:00:02Z',
          },
        },
        { clientIp: '10.0.0.2' },
        new Date('2026-01-01T00:00:02Z'),
      ),
    ]);
    const rows = await h.db
      .selectFrom('audit_events')
      .select(['global_position', 'operation', 'user_name', 'user_name_folded'])
      .orderBy('global_position')
      .execute();
    assert.deepEqual(
      rows.map((r) => [r.operation, r.user_name, r.user_name_folded]),
      [
        ['user.create', null, null],
        ['file.upload', 'Ärger', 'ärger'],
        ['session.open', 'Mallory', 'mallory'],
      ],
    );
    const names = await h.db.selectFrom('audit_names').selectAll().orderBy('name_folded').execute();
    assert.deepEqual(
      names.map((n) => [n.name_folded, n.user_id, n.user_name]),
      [
        ['mallory', 0, 'Mallory'],
        ['ärger', 7, 'Ärger'],
      ],
    );
  });

  it('lets its batch commit without waiting for the WAL flush (replayed after a crash)', async () => {
    const setting = await h.db.transaction().execute(async (trx) => {
      await auditProjection.apply(trx, [
        recorded(upload('/async'), { userId: 7, clientIp: '10.0.0.1' }, new Date('2026-01-01T00:00:03Z')),
      ]);
      return (await sql<{ s: string }>`SELECT current_setting('synchronous_commit') AS s`.execute(trx))
        .rows[0]?.s;
    });
    assert.equal(setting, 'off');
    const outside = await sql<{ s: string }>`SELECT current_setting('synchronous_commit') AS s`.execute(h.db);
    assert.equal(outside.rows[0]?.s, 'on', 'only for that transaction');
  });

  it('keeps `at` from decreasing, within and across batches, so time windows stay exact', async () => {
    const actor: Actor = { userId: 7, clientIp: '10.0.0.1' };
    const t = (s: number) => new Date(Date.UTC(2026, 0, 2, 0, 0, s));
    await apply([recorded(upload('/a'), actor, t(10)), recorded(upload('/b'), actor, t(5))]);
    await apply([recorded(upload('/c'), actor, t(3)), recorded(upload('/d'), actor, t(20))]);
    const rows = await sql<{ path: string; at: Date }>`
      SELECT path, at FROM audit_events WHERE path IN ('/a', '/b', '/c', '/d') ORDER BY global_position`.execute(
      h.db,
    );
    assert.deepEqual(
      rows.rows.map((r) => [r.path, r.at.toISOString()]),
      [
        ['/a', t(10).toISOString()],
        ['/b', t(10).toISOString()],
        ['/c', t(10).toISOString()],
        ['/d', t(20).toISOString()],
      ],
    );
    const window = async (from: number, to: number) =>
      (await queryAudit(h.db, { from: t(from), to: t(to) }, { limit: 50, order: 'asc' })).map((i) => i.path);
    assert.deepEqual(await window(10, 11), ['/a', '/b', '/c']);
    assert.deepEqual(await window(11, 30), ['/d']);
    assert.deepEqual(await window(0, 10), []);
    assert.deepEqual(await window(21, 40), []);
    const asOf = await queryAudit(
      h.db,
      { asOf: t(10), operations: ['file.upload'] },
      { limit: 50, order: 'asc' },
    );
    assert.deepEqual(
      asOf.map((i) => i.path),
      ['/x', '/async', '/a', '/b', '/c'],
    );
  });

  it('writes every character of a value as given, whichever way the batch is written', async () => {
    const awkward = [
      'with "quotes" and \\back\\slashes\\',
      '{braces},commas, and NULL',
      'NULL',
      'line\nbreak\ttab',
      'ünïcødé ✓ 𝄞',
    ];
    // Paths refuse control characters; user strings keep them.
    const path = (i: number, text: string) => `/odd/${i}/${text.replace(/[\n\t]/g, ' ')}`;
    const actor = (i: number): Actor => ({ userId: 7, clientIp: '10.0.0.1', userString: awkward[i] ?? '' });
    const events = awkward.map((text, i) =>
      recorded(upload(path(i, text)), actor(i), new Date('2026-01-03T00:00:00Z')),
    );
    // One batch through `apply`, the same events again through `prepare` (as the runner does).
    await apply(events.slice(0, 3));
    const write = auditProjection.prepare?.(events.slice(3));
    assert.ok(write, 'the audit projection prepares its writes');
    await h.db.transaction().execute((trx) => write(trx));
    const rows = await sql<{ path: string; user_string: string | null }>`
      SELECT path, user_string FROM audit_events WHERE path LIKE '/odd/%' ORDER BY global_position`.execute(
      h.db,
    );
    assert.deepEqual(
      rows.rows.map((r) => [r.path, r.user_string]),
      awkward.map((text, i) => [path(i, text), text]),
    );
  });

  it('finds every time window by binary search exactly as a scan of all rows would', async () => {
    // Rows with gaps between positions, runs of equal times and times that step back.
    const actor: Actor = { userId: 7, clientIp: '10.0.0.1' };
    const base = Date.UTC(2026, 1, 1);
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let batch = 0; batch < 5; batch += 1) {
      const events: RecordedDomainEvent[] = [];
      for (let i = 0; i < 40; i += 1) {
        position += Math.floor(random() * 4); // gaps: positions of events the view has no row for
        const ms = base + Math.floor(random() * 20) * 1000 + batch * 15_000;
        events.push(recorded(upload(`/window/${batch}/${i}`), actor, new Date(ms)));
      }
      await apply(events);
    }
    const rows = (
      await sql<{ position: string; at: Date }>`
        SELECT global_position AS position, at FROM audit_events ORDER BY global_position`.execute(h.db)
    ).rows.map((r) => ({ position: Number(r.position), at: r.at.getTime() }));
    const all = async (filters: { from?: Date; to?: Date; asOf?: Date }) =>
      (await queryAudit(h.db, filters, { limit: 10_000, order: 'asc' })).map((i) => i.position);
    const times = [
      rows[0]!.at - 1000,
      rows[0]!.at,
      rows.at(-1)!.at,
      rows.at(-1)!.at + 1,
      ...Array.from(
        { length: 30 },
        () => rows[Math.floor(random() * rows.length)]!.at + (random() < 0.5 ? 0 : 500),
      ),
    ];
    for (const from of times) {
      for (const to of times.slice(0, 12)) {
        if (to < from) continue;
        const expected = rows.filter((r) => r.at >= from && r.at < to).map((r) => r.position);
        assert.deepEqual(await all({ from: new Date(from), to: new Date(to) }), expected, `[${from}, ${to})`);
      }
      const asOf = rows.filter((r) => r.at <= from).map((r) => r.position);
      assert.deepEqual(await all({ asOf: new Date(from) }), asOf, `asOf ${from}`);
    }
  });
});
