import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { Elysia, t } from 'elysia';
import { createApp } from '../../src/http.ts';
import { AppError } from '../../src/platform/errors.ts';
import { testApp, type TestApp } from '../helpers/index.ts';

describe('platform routes with nothing configured', () => {
  let t0: TestApp;
  beforeAll(async () => (t0 = await testApp()));
  afterAll(() => t0.close());

  test('/health/live answers 200 without checking any dependency (liveness), /health is the readiness view', async () => {
    const { status, body } = await t0.json('/health/live');
    expect(status).toBe(200);
    expect(body).toEqual({ status: 'ok' });
  });

  test('/health reports embedded parts ok and the rest disabled, with 200', async () => {
    const { status, body } = await t0.json('/health');
    expect(status).toBe(200);
    expect(body.status).toBe('ok');
    expect(body.components).toMatchObject({ sqlite: 'ok', duckdb: 'ok', lake: 'ok', postgres: 'disabled', kafka: 'disabled', redis: 'disabled' });
    expect(body.details.redis.reason).toContain('REDIS_URL');
  });

  test('an unknown route answers 404 in the error shape', async () => {
    const { status, body } = await t0.json('/no/such/route');
    expect(status).toBe(404);
    expect(body).toEqual({ error: { code: 'not_found', message: expect.stringContaining('GET /no/such/route') } });
  });

  test('/metrics counts a request by route and status', async () => {
    await t0.request('/health');
    const text = await (await t0.request('/metrics')).text();
    expect(text).toMatch(/sillage_http_requests_total\{method="GET",route="\/health",status="200"\} \d+/);
    expect(text).toContain('sillage_process_cpu_seconds_total');
    expect(text).toContain('sillage_http_request_duration_seconds_bucket');
  });

  test('/metrics answers a JSON summary when asked for JSON, and /metrics/prometheus text', async () => {
    const json = await t0.json('/metrics', { headers: { accept: 'application/json' } });
    expect(json.body.sillage_http_requests_total).toBeArray();
    const res = await t0.request('/metrics/prometheus');
    expect(res.headers.get('content-type')).toContain('text/plain');
  });

  test('the OpenAPI document lists the routes with summaries and tags', async () => {
    const { body } = await t0.json('/swagger/json');
    expect(body.paths['/health'].get.summary).toBeString();
    expect(body.paths['/health'].get.tags).toEqual(['platform']);
    expect(body.paths['/metrics']).toBeDefined();
    expect(body.paths['/swagger']).toBeUndefined();
  });

  test('Swagger UI is served from local assets and /docs redirects to it', async () => {
    const page = await (await t0.request('/swagger')).text();
    expect(page).toContain('/swagger/assets/swagger-ui-bundle.js');
    expect(page).not.toContain('unpkg.com');
    expect((await t0.request('/swagger/assets/swagger-ui-bundle.js')).status).toBe(200);
    const docs = await t0.request('/docs');
    expect(docs.status).toBe(302);
    expect(docs.headers.get('location')).toBe('/swagger');
  });

  test('the web page is served with a strict content security policy', async () => {
    const res = await t0.request('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await res.text()).toContain('<script type="module" src="/assets/app.js">');
    expect((await t0.request('/assets/app.js')).status).toBe(200);
    expect((await t0.request('/assets/../../package.json')).status).toBe(404);
  });

  test("an error reply carries the client's request id", async () => {
    const res = await t0.request('/nowhere', { headers: { 'x-request-id': 'abc-123' } });
    expect(res.headers.get('x-request-id')).toBe('abc-123');
  });

  test('a 404 is counted under one "unmatched" route label, not per path', async () => {
    await t0.request('/random/a');
    await t0.request('/random/b');
    const text = await (await t0.request('/metrics')).text();
    expect(text).toMatch(/sillage_http_requests_total\{method="GET",route="unmatched",status="404"\} \d+/);
    expect(text).not.toContain('/random/a');
  });
});

describe('error shape', () => {
  let t0: TestApp;
  let app: { handle(r: Request): Promise<Response> };
  beforeAll(async () => {
    t0 = await testApp();
    app = createApp(t0.ctx).use(
      new Elysia()
        .get('/test/validate', ({ query }) => query, { query: t.Object({ n: t.Integer({ minimum: 1, maximum: 100 }), m: t.Optional(t.Numeric({ minimum: 1 })) }) })
        .get('/test/bad-response', () => ({ count: 'many' }) as never, { response: t.Object({ count: t.Integer() }) })
        .get('/test/boom', () => {
          throw new Error('secret internals at /src/x.ts:12');
        })
        .get('/test/conflict', () => {
          throw new AppError('run_in_progress', 'A run is in progress.', { status: 409, details: { run_id: 3 } });
        }),
    );
  });
  afterAll(() => t0.close());
  const get = async (path: string, init?: RequestInit) => {
    const res = await app.handle(new Request(`http://localhost${path}`, init));
    return { status: res.status, body: await res.json() as any, res };
  };

  test('a failed validation answers 400 naming the parameter and the rule', async () => {
    const { status, body } = await get('/test/validate?n=abc');
    expect(status).toBe(400);
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.message).toContain('query parameter "n"');
    expect(Object.keys(body)).toEqual(['error']);
  });

  test('an out-of-range number names the parameter and the rule', async () => {
    const a = await get('/test/validate?n=0');
    expect(a.body.error.message).toBe('Invalid query parameter "n": must be an integer from 1 to 100 (got 0). See /swagger for the accepted values.');
    const b = await get('/test/validate?n=5&m=abc');
    expect(b.body.error.message).toContain('query parameter "m": must be a number ≥ 1 (got "abc")');
  });

  test('a reply that breaks its own schema is a 500 (our bug), not a 400', async () => {
    const { status, body } = await get('/test/bad-response');
    expect(status).toBe(500);
    expect(body.error.code).toBe('internal');
  });

  test('a thrown internal error answers 500 without the stack, and is logged with the request id', async () => {
    const { status, body, res } = await get('/test/boom');
    expect(status).toBe(500);
    expect(body.error.code).toBe('internal');
    expect(JSON.stringify(body)).not.toContain('secret internals');
    const id = res.headers.get('x-request-id')!;
    expect(body.error.message).toContain(id);
    expect(t0.log.lines.some((l) => l.level === 'error' && l.requestId === id)).toBe(true);
  });

  test('a client error is logged with its request id, code and message (at info)', async () => {
    const { res } = await get('/test/validate?n=0', { headers: { 'x-request-id': 'client-err-1' } });
    expect(res.status).toBe(400);
    const line = t0.log.lines.find((l) => l.requestId === 'client-err-1');
    expect(line).toMatchObject({ level: 'info', status: 400, code: 'invalid_request', path: '/test/validate' });
  });

  test('an AppError keeps its status, code and details', async () => {
    const { status, body } = await get('/test/conflict');
    expect(status).toBe(409);
    expect(body).toEqual({ error: { code: 'run_in_progress', message: 'A run is in progress.', run_id: 3 } });
  });
});

describe('health with a configured service that is down', () => {
  test('Redis on a closed port is reported down and /health answers 503', async () => {
    const t1 = await testApp({ REDIS_URL: 'redis://127.0.0.1:1' });
    try {
      const { status, body } = await t1.json('/health');
      expect(status).toBe(503);
      expect(body.status).toBe('down');
      expect(body.components.redis).toBe('down');
      expect(body.components.sqlite).toBe('ok');
      expect(body.details.redis.reason).toBeString();
    } finally {
      await t1.close();
    }
  });
});
