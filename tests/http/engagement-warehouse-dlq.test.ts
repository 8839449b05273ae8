import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { warehouseRange } from '../../src/features/engagement/warehouse-routes.ts';
import { testApp, type TestApp } from '../helpers/index.ts';

describe('warehouse and DLQ routes without the pipeline services', () => {
  let t: TestApp;
  beforeAll(async () => (t = await testApp({ DATABASE_URL: '', REDIS_URL: '', KAFKA_BOOTSTRAP_SERVERS: '', API_KEY: 'a-long-enough-test-key' })));
  afterAll(() => t.close());

  test('/warehouse/daily with from after to is a 400 that says to swap them', async () => {
    const { status, body } = await t.json('/warehouse/daily?from=2026-02-01&to=2026-01-01');
    expect(status).toBe(400);
    expect(body.error.code).toBe('invalid_range');
    expect(body.error.message).toContain('Swap them');
  });

  test.each([
    ['/warehouse/daily?from=2026-13-01', 'from'],
    ['/warehouse/hourly?to=yesterday', 'to'],
    ['/warehouse/daily?content_id=42', 'content_id'],
    ['/warehouse/hourly?content_type=radio', 'content_type'],
  ])('%s is rejected with 400 invalid_request naming %s', async (path, field) => {
    const { status, body } = await t.json(path);
    expect(status).toBe(400);
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.message).toContain(field);
  });

  test('a period longer than the view allows is refused with the limit', async () => {
    const daily = await t.json('/warehouse/daily?from=2024-01-01&to=2026-01-01');
    expect(daily.status).toBe(400);
    expect(daily.body.error).toMatchObject({ code: 'range_too_large' });
    expect(daily.body.error.message).toContain('366 days');
    const hourly = await t.json('/warehouse/hourly?from=2026-01-01&to=2026-03-01');
    expect(hourly.body.error.message).toContain('31 days');
  });

  test('without DATABASE_URL the warehouse and the DLQ answer 503 with the variable to set', async () => {
    for (const path of ['/warehouse/daily', '/warehouse/hourly', '/dlq']) {
      const { status, body } = await t.json(path);
      expect(status).toBe(503);
      expect(body.error.message).toContain('DATABASE_URL');
    }
  });

  test('replaying the DLQ requires the API key', async () => {
    expect((await t.json('/dlq/replay', { method: 'POST' })).status).toBe(401);
    const wrong = await t.json('/dlq/replay', { method: 'POST', headers: { authorization: 'Bearer wrong-key-wrong-key' } });
    expect(wrong.status).toBe(403);
  });

  test('replay ids must be a comma-separated list of message ids', async () => {
    const { status, body } = await t.json('/dlq/replay?ids=a%20b', { method: 'POST', headers: { authorization: 'Bearer a-long-enough-test-key' } });
    expect(status).toBe(400);
    expect(body.error.message).toContain('ids');
  });

  test('the default periods end today: the last 7 days, or today for hourly', () => {
    const nowMs = Date.parse('2026-11-23T15:00:00Z');
    expect(warehouseRange({}, { nowMs, defaultDays: 7, maxDays: 366 })).toMatchObject({ from: '2026-11-17', to: '2026-11-23', limit: 1000 });
    expect(warehouseRange({ to: '2026-01-10' }, { nowMs, defaultDays: 1, maxDays: 31 })).toMatchObject({ from: '2026-01-10', to: '2026-01-10' });
  });
});

describe('a DuckDB warehouse in a process without the processor', () => {
  test('the warehouse routes answer 503 warehouse_not_here with the fix', async () => {
    const t = await testApp({ DATABASE_URL: '', REDIS_URL: '', KAFKA_BOOTSTRAP_SERVERS: '', WAREHOUSE: 'duckdb' });
    try {
      const { status, body } = await t.json('/warehouse/daily');
      expect(status).toBe(503);
      expect(body.error.code).toBe('warehouse_not_here');
      expect(body.error.message).toContain('WAREHOUSE=postgres');
    } finally {
      await t.close();
    }
  });
});
