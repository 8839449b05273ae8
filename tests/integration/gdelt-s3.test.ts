import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { S3Client } from 'bun';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EVENT_ROWS, startGdeltMirror, runJob } from '../helpers/gdelt.ts';
import { services, skipReason, testApp, uniqueName, type TestApp } from '../helpers/index.ts';

describe.skipIf(!!skipReason('s3'))('GDELT lake in S3', () => {
  // The describe body runs even when skipped: nothing here may touch S3 or start servers.
  const s3 = services.s3 ?? { bucket: '', endpoint: '', region: '', accessKeyId: '', secretAccessKey: '' };
  const prefix = uniqueName('gdelt');
  let client: S3Client;
  let mirror: ReturnType<typeof startGdeltMirror>;
  let t: TestApp;
  let job: any;
  const env = () => ({ GDELT_BASE_URL: mirror.url, LAKE_URL: `s3://${s3.bucket}/${prefix}`, S3_ENDPOINT: s3.endpoint, S3_REGION: s3.region, S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey });

  beforeAll(async () => {
    client = new S3Client({ bucket: s3.bucket, endpoint: s3.endpoint, region: s3.region, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
    mirror = startGdeltMirror();
    t = await testApp(env());
    job = await runJob(t, '/api/v1/ingest/trigger?n_batches=4');
  });
  afterAll(async () => {
    await t?.close();
    mirror.stop();
    const keys = (await client.list({ prefix: `${prefix}/`, maxKeys: 1000 })).contents?.map((o) => o.key) ?? [];
    await Promise.all(keys.map((k) => client.delete(k)));
  });

  test('batches land in the bucket under the same layout, with a manifest object each', async () => {
    expect(job).toMatchObject({ state: 'succeeded', batches_done: 4, errors: [] });
    const keys = ((await client.list({ prefix: `${prefix}/`, maxKeys: 1000 })).contents ?? []).map((o) => o.key.slice(prefix.length + 1)).sort();
    expect(keys).toContain('events/date=2015-02-18/batch=20150218230000.parquet');
    expect(keys).toContain('mentions/date=2015-02-18/batch=20150218234500.parquet');
    expect(keys).toContain('_batches/events/20150218231500.json');
    expect(keys.filter((k) => k.endsWith('.parquet'))).toHaveLength(8);
  });

  test('stats and event reads go through the local read-through cache, as /health says', async () => {
    const health = await t.json('/health');
    expect(health.body.details.lake).toMatchObject({ status: 'ok', kind: 's3', query_access: 'read-through cache', httpfs: expect.stringContaining('not loadable') });
    const stats = await t.json('/api/v1/events/stats?group_by=day');
    expect(stats.body.items[0].count).toBe(Object.values(EVENT_ROWS).reduce((a, b) => a + b));
    expect((await t.json('/api/v1/events/410412347')).body.actor2.name).toBe('PRESIDENT');
    expect(existsSync(join(t.dir, 'lake-cache/events/date=2015-02-18/batch=20150218230000.parquet'))).toBe(true);
  });

  test('a fresh service on the same bucket adopts the published batches instead of downloading them again', async () => {
    const other = await testApp(env());
    try {
      const before = mirror.hits.get('/20150218230000.export.CSV.zip');
      const again = await runJob(other, '/api/v1/ingest/trigger?n_batches=4');
      expect(again).toMatchObject({ state: 'succeeded', batches_done: 4 });
      expect(mirror.hits.get('/20150218230000.export.CSV.zip')).toBe(before);
      expect((await other.json('/api/v1/ingest/batches?table=events')).body.total).toBe(4);
      expect((await other.json('/api/v1/events/search?limit=1')).body.total).toBe(Object.values(EVENT_ROWS).reduce((a, b) => a + b));
    } finally {
      await other.close();
    }
  });
});
