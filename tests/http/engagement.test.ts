import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { ManualClock } from '../../src/platform/clock.ts';
import { testApp, type TestApp } from '../helpers/index.ts';

const id = 'aaaaaaaa-0000-4000-8000-000000000001';

describe('engagement routes without the pipeline services', () => {
  let t: TestApp;
  beforeAll(async () => (t = await testApp({ DATABASE_URL: '', REDIS_URL: '', KAFKA_BOOTSTRAP_SERVERS: '' })));
  afterAll(() => t.close());

  test('/health reports the pipeline disabled with the variables that turn it on, and stays 200', async () => {
    const { status, body } = await t.json('/health');
    expect(status).toBe(200);
    expect(body.components.engagement).toBe('disabled');
    expect(body.details.engagement.reason).toContain('KAFKA_BOOTSTRAP_SERVERS');
    expect(body.workers).toEqual({});
  });

  test('the monitoring routes answer 503 engagement_disabled, saying what to set', async () => {
    for (const path of ['/top-content', '/top-content/live', `/content/${id}/stats`, `/content/${id}/recent-events`]) {
      const { status, body } = await t.json(path);
      expect(status).toBe(503);
      expect(body.error.code).toBe('engagement_disabled');
      expect(body.error.message).toContain('REDIS_URL');
    }
  });

  test.each([
    ['/top-content?limit=abc', 'limit'],
    ['/top-content?content_type=podcasts', 'content_type'],
    ['/content/not-a-uuid/stats', 'id'],
  ])('%s is rejected with 400 invalid_request naming %s', async (path, field) => {
    const { status, body } = await t.json(path);
    expect(status).toBe(400);
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.message).toContain(field);
  });

  // Elysia checks a coerced number on its own, so these messages give the rule and the value but not the field.
  test.each(['/top-content?limit=0', '/top-content?limit=1001', '/top-content?window_minutes=0', '/top-content/live?limit=0', '/top-content/live?window_minutes=0', `/content/${id}/recent-events?count=51`])(
    '%s is out of range: 400 invalid_request with the rule broken',
    async (path) => {
      const { status, body } = await t.json(path);
      expect(status).toBe(400);
      expect(body.error.code).toBe('invalid_request');
      expect(body.error.message).toMatch(/query parameter "\w+": must be an integer from \d+ to \d+/);
    },
  );

  test('the routes are documented with summaries, the engagement tag and their error statuses', async () => {
    const { body } = await t.json('/swagger/json');
    const top = body.paths['/top-content'].get;
    expect(top.tags).toEqual(['engagement']);
    expect(top.summary).toBeString();
    expect(Object.keys(top.responses)).toEqual(expect.arrayContaining(['200', '400', '429', '503']));
    expect(body.paths['/content/{id}/stats'].get.responses['404']).toBeDefined();
  });
});

describe('engagement monitoring routes under the query rate limit', () => {
  let t: TestApp;
  const clock = new ManualClock(1_000_000);
  // 6 a minute: a burst of one request, then one every 10 s.
  beforeAll(async () => (t = await testApp({ DATABASE_URL: '', REDIS_URL: '', KAFKA_BOOTSTRAP_SERVERS: '', RATE_LIMIT_SEARCH_PER_MINUTE: '6' }, { clock })));
  afterAll(() => t.close());

  test.each(['/top-content', '/top-content/live', `/content/${id}/stats`, `/content/${id}/recent-events`])('%s counts against the client\'s query budget: over it, 429 with Retry-After', async (path) => {
    clock.advance(10_000);
    expect((await t.request(path)).status).toBe(503);
    const limited = await t.request(path);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('10');
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
  });
});

describe('engagement with the services configured but ROLE=api', () => {
  let t: TestApp;
  // Unreachable addresses: nothing connects at start, and ROLE=api never starts the pipeline workers.
  beforeAll(async () => (t = await testApp({ ENGAGEMENT_PIPELINE: 'auto', ROLE: 'api', DATABASE_URL: 'postgres://x@127.0.0.1:1/x', REDIS_URL: 'redis://127.0.0.1:1', KAFKA_BOOTSTRAP_SERVERS: '127.0.0.1:1', REDIS_AGGREGATION_WINDOW_MINUTES: '5' })));
  afterAll(() => t.close());

  test('the pipeline is disabled and says which role would run it', async () => {
    const { body } = await t.json('/health');
    expect(body.components.engagement).toBe('disabled');
    expect(body.details.engagement.reason).toContain('ROLE=api');
    expect(body.workers).toEqual({});
  });

  test('a window longer than the one Redis keeps is a 400 that says the limit', async () => {
    for (const path of ['/top-content?window_minutes=6', '/top-content/live?window_minutes=6']) {
      const { status, body } = await t.json(path);
      expect(status).toBe(400);
      expect(body.error.code).toBe('window_too_large');
      expect(body.error.message).toContain('REDIS_AGGREGATION_WINDOW_MINUTES=5');
    }
  });

  test('Redis not answering is a 503 redis_unavailable, not a 500', async () => {
    for (const path of ['/top-content', '/top-content/live']) {
      const { status, body } = await t.json(path);
      expect(status).toBe(503);
      expect(body.error.code).toBe('redis_unavailable');
    }
  }, 20_000);
});

describe('engagement with the services configured but ENGAGEMENT_PIPELINE=off', () => {
  test('the pipeline is disabled and says why, and no worker starts', async () => {
    const t = await testApp({ ENGAGEMENT_PIPELINE: 'off', DATABASE_URL: 'postgres://x@127.0.0.1:1/x', REDIS_URL: 'redis://127.0.0.1:1', KAFKA_BOOTSTRAP_SERVERS: '127.0.0.1:1' });
    try {
      const { body } = await t.json('/health');
      expect(body.components.engagement).toBe('disabled');
      expect(body.details.engagement.reason).toBe('ENGAGEMENT_PIPELINE=off');
      expect(body.workers).toEqual({});
    } finally {
      await t.close();
    }
  });
});
