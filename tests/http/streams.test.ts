import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { ManualClock } from '../../src/platform/clock.ts';
import { testApp, type TestApp } from '../helpers/index.ts';

describe('streams with no services configured', () => {
  let t0: TestApp;
  beforeAll(async () => (t0 = await testApp({ DATABASE_URL: '', KAFKA_BOOTSTRAP_SERVERS: '', REDIS_URL: '' })));
  afterAll(() => t0.close());

  test('/health shows streams disabled with the variables to set, and stays 200', async () => {
    const { status, body } = await t0.json('/health');
    expect(status).toBe(200);
    expect(body.components.streams).toBe('disabled');
    expect(body.details.streams.reason).toBe('set DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, REDIS_URL to enable');
  });

  test.each([
    ['GET', '/api/v1/streams/jobs'],
    ['GET', '/api/v1/streams/jobs/finance_ohlc_1m'],
    ['GET', '/api/v1/streams/jobs/finance_ohlc_1m/results?latest=true'],
    ['GET', '/api/v1/streams/jobs/finance_ohlc_1m/live'],
    ['DELETE', '/api/v1/streams/jobs/finance_ohlc_1m'],
  ])('%s %s answers 503 naming the missing variables', async (method, path) => {
    const { status, body } = await t0.json(path, { method });
    expect(status).toBe(503);
    expect(body.error.code).toBe('streams_disabled');
    expect(body.error.message).toContain('Set DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, REDIS_URL');
  });

  test('creating a job answers 503 too, after the API key check', async () => {
    const { status, body } = await t0.json('/api/v1/streams/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x' }) });
    expect(status).toBe(503);
    expect(body.error.code).toBe('streams_disabled');
  });

  test('the OpenAPI document describes the streams routes, with the spec schema for POST', async () => {
    const { body } = await t0.json('/swagger/json');
    for (const p of ['/api/v1/streams/jobs', '/api/v1/streams/jobs/{name}', '/api/v1/streams/jobs/{name}/results', '/api/v1/streams/jobs/{name}/live', '/api/v1/streams/jobs/{name}/dlq'])
      expect(body.paths[p]).toBeDefined();
    const post = body.paths['/api/v1/streams/jobs'].post;
    expect(post.tags).toEqual(['streams']);
    expect(post.requestBody.content['application/json'].schema.properties.window).toBeDefined();
    expect(post.security).toEqual([{ bearer: [] }]);
  });
});

describe('streams results and dead letters under the search rate limit', () => {
  let t0: TestApp;
  const clock = new ManualClock(1_000_000);
  // A burst of one request per client, refilled every 10 s of the manual clock; the routes answer 503 (no
  // services) when the limit lets a request through.
  beforeAll(async () => (t0 = await testApp({ RATE_LIMIT_SEARCH_PER_MINUTE: '6', DATABASE_URL: '', KAFKA_BOOTSTRAP_SERVERS: '', REDIS_URL: '' }, { clock })));
  afterAll(() => t0.close());

  test.each([['/api/v1/streams/jobs/finance_ohlc_1m/results?key=&from=&to=&limit='], ['/api/v1/streams/jobs/finance_ohlc_1m/dlq?limit=']])(
    'GET %s takes empty values as not given, and a second request at once answers 429',
    async (path) => {
      clock.advance(10_000);
      expect((await t0.json(path)).body.error.code).toBe('streams_disabled');
      const limited = await t0.json(path);
      expect(limited.status).toBe(429);
      expect(limited.body.error.code).toBe('rate_limited');
    },
  );
});

describe('streams behind an API key', () => {
  let t0: TestApp;
  beforeAll(async () => (t0 = await testApp({ API_KEY: 'a-long-enough-secret-key', DATABASE_URL: '', KAFKA_BOOTSTRAP_SERVERS: '', REDIS_URL: '' })));
  afterAll(() => t0.close());

  test('creating or deleting a job without the key answers 401, with a wrong key 403', async () => {
    expect((await t0.json('/api/v1/streams/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
    expect((await t0.json('/api/v1/streams/jobs/x', { method: 'DELETE', headers: { authorization: 'Bearer nope' } })).status).toBe(403);
  });
});
