import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { Elysia } from 'elysia';
import { createApp } from '../../src/http.ts';
import { ManualClock } from '../../src/platform/clock.ts';
import { testApp, type TestApp } from '../helpers/index.ts';

describe('rate limiting', () => {
  let t0: TestApp;
  let app: { handle(r: Request): Promise<Response> };
  const clock = new ManualClock(1_000_000);
  beforeAll(async () => {
    t0 = await testApp({ RATE_LIMIT_SEARCH_PER_MINUTE: '6' }, { clock });
    app = createApp(t0.ctx).use(new Elysia().get('/test/search', () => ({ ok: true }), { beforeHandle: t0.ctx.limits.search }));
  });
  afterAll(() => t0.close());
  const get = () => app.handle(new Request('http://localhost/test/search'));

  test('a client over its budget gets 429 with Retry-After, then is served again after refill', async () => {
    // burst = ceil(6/6) = 1 request, refilled at 1 per 10 s
    expect((await get()).status).toBe(200);
    const limited = await get();
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('10');
    expect(((await limited.json()) as any).error.code).toBe('rate_limited');
    clock.advance(10_000);
    expect((await get()).status).toBe(200);
  });
});

describe('rate limiting on real routes', () => {
  test('each client has its own bucket; search and mutations are counted apart', async () => {
    const { rateLimiter } = await import('../../src/platform/http/ratelimit.ts');
    const limit = rateLimiter({ perMinute: 6, clock: new ManualClock(0) });
    const from = (address: string) => ({ request: new Request('http://localhost/x'), server: { requestIP: () => ({ address }) } });
    limit(from('10.0.0.1'));
    expect(() => limit(from('10.0.0.1'))).toThrow('Too many requests');
    // Another client is not affected by the first one's budget.
    expect(() => limit(from('10.0.0.2'))).not.toThrow();
  });

  test('GET /api/v1/events/search and a POST answer 429 past their budgets', async () => {
    const t1 = await testApp({ RATE_LIMIT_SEARCH_PER_MINUTE: '6', RATE_LIMIT_MUTATIONS_PER_MINUTE: '6' }, { clock: new ManualClock(5_000_000) });
    try {
      expect((await t1.request('/api/v1/events/search?query=protest')).status).toBe(200);
      const limited = await t1.request('/api/v1/events/search?query=protest');
      expect(limited.status).toBe(429);
      expect(((await limited.json()) as any).error.code).toBe('rate_limited');
      // The mutation budget is separate, and counted before the body is validated.
      const post = () => t1.request('/api/v1/ingest/trigger?n_batches=many', { method: 'POST' });
      expect((await post()).status).toBe(400);
      expect((await post()).status).toBe(429);
    } finally {
      await t1.close();
    }
  });
});

describe('CORS', () => {
  test('is off by default: no CORS headers', async () => {
    const t1 = await testApp();
    try {
      const res = await t1.request('/health', { headers: { origin: 'https://evil.example' } });
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await t1.close();
    }
  });

  test('allows only the configured origins', async () => {
    const t1 = await testApp({ CORS_ORIGINS: 'https://ops.example.com' });
    try {
      const ok = await t1.request('/health', { headers: { origin: 'https://ops.example.com' } });
      expect(ok.headers.get('access-control-allow-origin')).toBe('https://ops.example.com');
      const other = await t1.request('/health', { headers: { origin: 'https://evil.example' } });
      expect(other.headers.get('access-control-allow-origin')).not.toBe('https://evil.example');
    } finally {
      await t1.close();
    }
  });
});

describe('request size and API key', () => {
  test('a body over MAX_BODY_BYTES is refused with 413 by the real server', async () => {
    const { startServer } = await import('../../src/server.ts');
    const t1 = await testApp({ MAX_BODY_BYTES: '1024' });
    const server = startServer(t1.ctx, { port: 0, hostname: '127.0.0.1' });
    try {
      const url = `http://127.0.0.1:${server.port}/etl/run`;
      const res = await fetch(url, { method: 'POST', body: 'x'.repeat(1500) });
      expect(res.status).toBe(413);
      expect(((await res.json()) as any).error).toMatchObject({ code: 'payload_too_large', message: expect.stringContaining('MAX_BODY_BYTES') });
      // A chunked body (no content-length) is measured as it is read.
      const chunked = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('x'.repeat(1500))); c.close(); } });
      const res2 = await fetch(url, { method: 'POST', body: chunked, duplex: 'half' } as RequestInit);
      expect(res2.status).toBe(413);
      expect(((await res2.json()) as any).error.code).toBe('payload_too_large');
      // Far over the limit, Bun itself cuts the upload off, still with 413.
      expect((await fetch(url, { method: 'POST', body: 'x'.repeat(8192) })).status).toBe(413);
      // Under the limit, the route answers as usual (here: no ETL source configured is not a 413).
      const small = await fetch(`http://127.0.0.1:${server.port}/health`, { method: 'POST', body: '{}' });
      expect(small.status).not.toBe(413);
    } finally {
      server.stop(true);
      await t1.close();
    }
  });

  test('with API_KEY set, a mutating route answers 401 without a token, 403 with a wrong one, 200 with the key', async () => {
    const { requireApiKey } = await import('../../src/platform/http/auth.ts');
    const t1 = await testApp({ API_KEY: 'correct-horse-battery-staple' });
    const app = createApp(t1.ctx).use(new Elysia().post('/test/mutate', () => ({ ok: true }), { beforeHandle: requireApiKey(t1.ctx) }));
    const post = (auth?: string) => app.handle(new Request('http://localhost/test/mutate', { method: 'POST', headers: auth ? { authorization: auth } : {} }));
    try {
      const none = await post();
      expect(none.status).toBe(401);
      expect(((await none.json()) as any).error.code).toBe('unauthorized');
      expect((await post('Bearer wrong-key-of-some-length')).status).toBe(403);
      expect((await post('Bearer correct-horse-battery-staple')).status).toBe(200);
    } finally {
      await t1.close();
    }
  });
});
