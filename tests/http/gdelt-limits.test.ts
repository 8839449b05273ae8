import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, test } from 'bun:test';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Catalog, parquetKey } from '../../src/features/gdelt/catalog.ts';
import { testApp } from '../helpers/index.ts';

describe('lake queries have a deadline', () => {
  test('a stats or timeline query over more rows than GDELT_QUERY_TIMEOUT_MS allows answers 503 query_timeout, and the service goes on', async () => {
    const t = await testApp({ GDELT_QUERY_TIMEOUT_MS: '100' });
    try {
      // 10M events with distinct times: grouping them takes about a second here, ten times the deadline.
      const batch = '20150218230000';
      const key = parquetKey('events', batch);
      const path = join(t.dir, 'lake', key);
      mkdirSync(dirname(path), { recursive: true });
      const gen = await DuckDBInstance.create(':memory:');
      const c = await gen.connect();
      await c.run(
        `COPY (SELECT 1::BIGINT AS GLOBALEVENTID, TIMESTAMP '2015-02-18 23:00:00' + to_microseconds(range) AS DATEADDED, -1.5::DOUBLE AS AvgTone, 2.0::DOUBLE AS GoldsteinScale
         FROM range(10000000)) TO '${path}' (FORMAT parquet, COMPRESSION zstd)`,
      );
      c.closeSync();
      gen.closeSync();
      new Catalog(t.ctx.stores.sqlite.db).record({
        table: 'events', batch, name: `${batch}.export.CSV.zip`, rows: 10_000_000, bytes: 0, md5: 'generated', quarantined_rows: 0,
        parquet_key: key, parquet_bytes: Bun.file(path).size, quarantine_key: null, ingested_at: new Date().toISOString(),
      });
      for (const p of ['/api/v1/events/stats?group_by=day', '/api/v1/events/timeline?interval=15m']) {
        const r = await t.json(p);
        expect(r.status).toBe(503);
        expect(r.body.error).toMatchObject({ code: 'query_timeout', message: expect.stringContaining('longer than 100 ms') });
      }
      expect((await t.json('/api/v1/events/stats?group_by=day&since=2020-01-01')).body).toEqual({ items: [] });
    } finally {
      await t.close();
    }
  });
});

describe('rate limits and metrics', () => {
  test('event detail, the job list, one job and the batch list share the search rate limit', async () => {
    // A budget of one request a minute: the first read spends it, every route after it is refused.
    const t = await testApp({ RATE_LIMIT_SEARCH_PER_MINUTE: '1' });
    try {
      expect((await t.json('/api/v1/ingest/jobs')).status).toBe(200);
      for (const p of ['/api/v1/ingest/jobs', '/api/v1/ingest/jobs/1', '/api/v1/ingest/batches', '/api/v1/events/410412347', '/api/v1/events/search?query=x']) {
        const r = await t.json(p);
        expect({ p, status: r.status, code: r.body.error?.code }).toEqual({ p, status: 429, code: 'rate_limited' });
      }
    } finally {
      await t.close();
    }
  });

  test('the jobs counter shows every final state at zero before any job ends', async () => {
    const t = await testApp();
    try {
      const text = await (await t.request('/metrics')).text();
      expect(text).toContain('sillage_gdelt_jobs_total{state="succeeded"} 0');
      expect(text).toContain('sillage_gdelt_jobs_total{state="failed"} 0');
    } finally {
      await t.close();
    }
  });
});
