/** Every failure leaves the HTTP server as application/problem+json with a stable type. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { createMetrics } from '../../src/adapters/metrics/metrics.js';
import { Problem } from '../../src/api/problems.js';
import { buildServer } from '../../src/api/server.js';
import { curl } from '../support/curl.js';

describe('problem+json errors', () => {
  let app: FastifyInstance;
  let base: string;

  before(async () => {
    app = await buildServer(
      {
        version: 'test',
        metrics: createMetrics(),
        readiness: async () => ({
          status: 'ready',
          database: 'ok',
          headPosition: 0,
          maxLag: 0,
          projections: [],
        }),
      },
      { logger: false },
    );
    // Routes that exercise each path of the error handler.
    app.post(
      '/echo',
      {
        schema: {
          body: Type.Object({ name: Type.String({ maxLength: 5 }) }, { additionalProperties: false }),
        },
      },
      async (request) => request.body,
    );
    app.get('/conflict', async () => {
      throw new Problem(409, 'session-closed', 'The session is closed', 'closed at 12:00');
    });
    app.get('/crash', async () => {
      throw new Error('secret internal detail');
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(() => app.close());

  it('reports schema violations as /problems/validation with each failure', async () => {
    const res = await curl([
      '-X',
      'POST',
      '-H',
      'content-type: application/json',
      '-d',
      '{"name":"far too long","x":1}',
      `${base}/echo`,
    ]);
    assert.equal(res.status, 400);
    assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/);
    const body = res.json<{ type: string; status: number; errors: Array<{ path: string }> }>();
    assert.equal(body.type, '/problems/validation');
    assert.equal(body.status, 400);
    assert.ok(body.errors.length >= 2, 'all violations are listed');
    assert.ok(body.errors.some((e) => e.path === 'body/name'));
  });

  it('reports malformed JSON as a 400 problem', async () => {
    const res = await curl([
      '-X',
      'POST',
      '-H',
      'content-type: application/json',
      '-d',
      '{"name":',
      `${base}/echo`,
    ]);
    assert.equal(res.status, 400);
    assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/);
    assert.match(res.json<{ type: string }>().type, /^\/problems\//);
  });

  it('passes a domain Problem through with its own type and detail', async () => {
    const res = await curl([`${base}/conflict`]);
    assert.equal(res.status, 409);
    assert.deepEqual(res.json(), {
      type: '/problems/session-closed',
      title: 'The session is closed',
      status: 409,
      detail: 'closed at 12:00',
      instance: '/conflict',
    });
  });

  it('hides the details of unexpected errors', async () => {
    const res = await curl([`${base}/crash`]);
    assert.equal(res.status, 500);
    assert.equal(res.json<{ type: string }>().type, '/problems/internal');
    assert.doesNotMatch(res.body, /secret internal detail/);
  });
});
