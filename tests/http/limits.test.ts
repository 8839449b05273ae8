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
      const res = await fetch(`http://127.0.0.1:${server.port}/health`, { method: 'POST', body: 'x'.repeat(4096) });
      expect(res.status).toBe(413);
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
