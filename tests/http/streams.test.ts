import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
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

describe('streams behind an API key', () => {
  let t0: TestApp;
  beforeAll(async () => (t0 = await testApp({ API_KEY: 'a-long-enough-secret-key', DATABASE_URL: '', KAFKA_BOOTSTRAP_SERVERS: '', REDIS_URL: '' })));
  afterAll(() => t0.close());

  test('creating or deleting a job without the key answers 401, with a wrong key 403', async () => {
    expect((await t0.json('/api/v1/streams/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
    expect((await t0.json('/api/v1/streams/jobs/x', { method: 'DELETE', headers: { authorization: 'Bearer nope' } })).status).toBe(403);
  });
});
