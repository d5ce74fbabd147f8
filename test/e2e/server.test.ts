/**
 * The README's start command, end to end: the real server process with its embedded
 * PostgreSQL, probed with curl; stopped with SIGINT; started again on the same data.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { OpenAPIV3_1 } from 'openapi-types';
import pg from 'pg';
import { serverSettings } from '../../src/adapters/database/embedded-postgres.js';
import { curl } from '../support/curl.js';
import { makeDataDir, type ServerProcess, spawnServer } from '../support/server-process.js';

async function waitUntilReady(baseUrl: string): Promise<Record<string, unknown>> {
  // Readiness is reached once the projections have caught up; poll a bounded number of times.
  for (let attempt = 0; attempt < 100; attempt++) {
    const res = await curl([`${baseUrl}/readyz`]);
    if (res.status === 200) return res.json();
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('server never became ready');
}

async function countEvents(server: ServerProcess): Promise<Record<string, number>> {
  const password = (await readFile(path.join(server.dataDir, 'pg-password'), 'utf8')).trim();
  const client = new pg.Client({
    connectionString: `postgres://sluice:${encodeURIComponent(password)}@127.0.0.1:${server.env.MFT_PG_PORT}/sluice`,
  });
  await client.connect();
  try {
    const rows = await client.query<{ type: string; n: string }>(
      'SELECT type, count(*) AS n FROM events GROUP BY type',
    );
    return Object.fromEntries(rows.rows.map((r) => [r.type, Number(r.n)]));
  } finally {
    await client.end();
  }
}

describe('the server process (npm start)', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('starts with no configuration but a data dir, serves health, OpenAPI, docs and metrics, stops on SIGINT and restarts on the same data', async () => {
    const dataDir = await makeDataDir();
    dirs.push(dataDir);
    const first = await spawnServer({ dataDir });
    try {
      const ready = await waitUntilReady(first.baseUrl);
      assert.equal(ready.status, 'ready');
      assert.equal(ready.database, 'ok');
      assert.ok(Array.isArray(ready.projections) && ready.projections.length > 0);

      const health = await curl([`${first.baseUrl}/healthz`]);
      assert.equal(health.status, 200);
      assert.equal(health.json<{ status: string }>().status, 'ok');

      const openapi = await curl([`${first.baseUrl}/openapi.json`]);
      assert.equal(openapi.status, 200);
      const document = openapi.json<OpenAPIV3_1.Document>();
      assert.match(document.openapi, /^3\./);
      for (const route of ['/healthz', '/readyz', '/metrics'])
        assert.ok(document.paths?.[route], `${route} documented`);
      // A structurally valid OpenAPI 3 document (throws with the first violation otherwise).
      await SwaggerParser.validate(structuredClone(document) as never);
      // One authenticated scope: every /api/v1 call but those that open a session needs a token.
      let authenticated = 0;
      for (const [route, item] of Object.entries(document.paths ?? {})) {
        if (!route.startsWith('/api/v1/') || route.startsWith('/api/v1/sessions/open')) continue;
        for (const method of ['get', 'put', 'post', 'patch', 'delete', 'head'] as const) {
          const operation = item?.[method];
          if (!operation) continue;
          assert.deepEqual(operation.security, [{ bearer: [] }], `${method.toUpperCase()} ${route}`);
          authenticated++;
        }
      }
      assert.ok(authenticated > 20, `${authenticated} authenticated operations documented`);

      const docs = await curl(['-L', `${first.baseUrl}/docs`]);
      assert.equal(docs.status, 200);
      assert.match(docs.headers['content-type'] ?? '', /text\/html/);
      assert.match(docs.body, /swagger-ui/i);

      const missing = await curl([`${first.baseUrl}/no/such/route`]);
      assert.equal(missing.status, 404);
      assert.match(missing.headers['content-type'] ?? '', /^application\/problem\+json/);
      assert.equal(missing.json<{ type: string }>().type, '/problems/not-found');

      const metrics = await curl([`${first.baseUrl}/metrics`]);
      assert.equal(metrics.status, 200);
      assert.match(metrics.body, /^sluice_events_appended_total [1-9]\d*$/m);
      assert.match(
        metrics.body,
        /sluice_http_request_duration_seconds_count\{method="GET",route="\/healthz",status="200"\} 1/,
      );
      assert.match(metrics.body, /^sluice_event_store_head_position \d+$/m);
      assert.match(metrics.body, /sluice_projection_position\{projection="server_instances"\} \d+/);

      // First start: the generated admin password is printed once, on the console, and works.
      const printed = /the "admin" user's password is (\S+)/.exec(first.stderr());
      assert.ok(printed, `password printed: ${first.stderr()}`);
      const password = printed[1]!;
      assert.ok(!first.lines.some((l) => l.includes(password)), 'never in a log line');
      const signIn = await curl([
        '-H',
        'content-type: application/json',
        '-d',
        JSON.stringify({ userName: 'admin', password, applicationId: 1, clientVersion: 'e2e' }),
        `${first.baseUrl}/api/v1/sessions/open`,
      ]);
      assert.equal(signIn.status, 201, signIn.body);

      const startupLog = first.lines.join('\n');
      assert.match(
        startupLog,
        new RegExp(
          `embedded PostgreSQL in .*/pg, listening on 127\\.0\\.0\\.1:\\d+ \\(shared_buffers ${serverSettings().shared_buffers}\\)`,
        ),
      );
      assert.match(startupLog, /HTTP API listening on http:\/\/127\.0\.0\.1:\d+/);
    } finally {
      assert.equal(await first.stop('SIGINT'), 0, `clean exit; stderr: ${first.stderr()}`);
    }
    assert.ok(first.lines.some((l) => l.includes('"msg":"stopped"')));
    assert.equal(
      existsSync(path.join(dataDir, 'pg', 'postmaster.pid')),
      false,
      'embedded PostgreSQL stopped',
    );

    const second = await spawnServer({ dataDir });
    try {
      await waitUntilReady(second.baseUrl);
      const counts = await countEvents(second);
      assert.equal(counts.ServerStarted, 2, 'the second start appended to the same event log');
      assert.equal(counts.ServerStopped, 1);
      assert.equal(counts.UserCreated, 1, 'the admin is created once');
      assert.doesNotMatch(second.stderr(), /password is/, 'printed on the first start only');
    } finally {
      assert.equal(await second.stop('SIGTERM'), 0);
    }
  });

  it('takes over the embedded PostgreSQL orphaned by a killed server', async () => {
    const dataDir = await makeDataDir();
    dirs.push(dataDir);
    const killed = await spawnServer({ dataDir });
    killed.child.kill('SIGKILL');
    await killed.exited;
    const pid = Number((await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);
    assert.doesNotThrow(() => process.kill(pid, 0), 'the orphaned PostgreSQL is still running');
    const next = await spawnServer({ dataDir, env: { MFT_PG_PORT: killed.env.MFT_PG_PORT! } });
    try {
      await waitUntilReady(next.baseUrl);
      assert.equal((await countEvents(next)).ServerStarted, 2);
    } finally {
      assert.equal(await next.stop(), 0);
    }
  });

  const badConfigurations: Array<[string, Record<string, string>, number, RegExp]> = [
    [
      'a non-numeric port',
      { MFT_HTTP_PORT: 'eighty' },
      2,
      /^sluice: invalid configuration: MFT_HTTP_PORT: expected a whole number, got "eighty"\n$/,
    ],
    [
      'a port out of range',
      { MFT_HTTP_PORT: '70000' },
      2,
      /^sluice: invalid configuration: MFT_HTTP_PORT: must be between 1 and 65535, got 70000\n$/,
    ],
    [
      'a DATABASE_URL that is not a URL',
      { DATABASE_URL: 'not a url' },
      2,
      /^sluice: invalid configuration: DATABASE_URL: not a valid URL/,
    ],
    [
      'a DATABASE_URL of another scheme',
      { DATABASE_URL: 'mysql://u:p@127.0.0.1/db' },
      2,
      /^sluice: invalid configuration: DATABASE_URL: expected a postgres:\/\/ URL/,
    ],
    [
      'an unreachable DATABASE_URL',
      { DATABASE_URL: 'postgres://u:secret-pw@127.0.0.1:1/db' },
      1,
      /^sluice: cannot start: cannot reach database postgres:\/\/u@127\.0\.0\.1:1\/db: .*ECONNREFUSED.*\n$/,
    ],
    [
      'an unknown log level',
      { MFT_LOG_LEVEL: 'loud' },
      2,
      /^sluice: invalid configuration: MFT_LOG_LEVEL: expected one of/,
    ],
  ];
  for (const [what, env, code, message] of badConfigurations) {
    it(`exits ${code} with one clear line on ${what}`, async () => {
      const server = await spawnServer({ env, waitForListening: false });
      dirs.push(server.dataDir);
      assert.equal(await server.exited, code);
      const stderr = server.stderr();
      assert.match(stderr, message);
      assert.equal(stderr.trim().split('\n').length, 1, `one line, no stack trace: ${stderr}`);
      assert.doesNotMatch(stderr, /secret-pw/, 'the password never appears');
    });
  }
});
