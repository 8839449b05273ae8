import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { rmSync } from 'node:fs';
import { AppError } from '../../src/platform/errors.ts';
import { BigQueryWarehouse } from '../../src/features/engagement/warehouse/bigquery.ts';
import { translate, startBigQueryStandIn, type BigQueryStandIn } from '../helpers/bigquery-standin.ts';
import { engagementEnvelope } from '../helpers/engagement.ts';
import { tempDir } from '../helpers/index.ts';

describe('BigQuery warehouse against the REST stand-in', () => {
  const dir = tempDir('sillage-bq-unit-');
  let standIn: BigQueryStandIn;
  const make = (datasetId: string) =>
    new BigQueryWarehouse({ projectId: standIn.projectId, datasetId, apiUrl: standIn.url, credentialsFile: standIn.credentialsFile, flushRows: 100, flushIntervalMs: 5 });
  beforeAll(async () => {
    standIn = await startBigQueryStandIn({ dir: dir.path });
  });
  afterAll(async () => {
    await standIn.close();
    rmSync(dir.path, { recursive: true, force: true });
  });

  test('two instances racing past the existence check store a row twice, yet every view counts the event once', async () => {
    // Outside BigQuery's dedupe window (here: none), as after a long pause between a crash and the redelivery.
    standIn.dedupeWindowMs = 0;
    try {
      const a = make('race');
      const b = make('race');
      await a.prepare();
      const batch = [1, 2, 3].map((n) => engagementEnvelope(n, { event_ts: '2026-02-01T12:00:00.000Z' }));
      await Promise.all([a.write(batch), b.write(batch)]);
      const stored = await standIn.rows('race', 'engagement_facts');
      expect(stored.length).toBeGreaterThanOrEqual(3);
      expect(await a.count()).toBe(3);
      const days = await a.daily({ from: '2026-02-01', to: '2026-02-01', limit: 10 });
      expect(days.reduce((n, d) => n + d.events, 0)).toBe(3);
    } finally {
      standIn.dedupeWindowMs = 60_000;
    }
  });

  test('within the dedupe window BigQuery itself drops a repeated insertId', async () => {
    const w = make('window');
    await w.prepare();
    const e = engagementEnvelope(7, { event_ts: '2026-02-02T00:00:00.000Z' });
    // Two separate instances, each sure the row is new: the insertId makes the second insert a no-op.
    await Promise.all([w.write([e]), make('window').write([e])]);
    expect(await standIn.rows('window', 'engagement_facts')).toHaveLength(1);
  });

  test('a row BigQuery refuses fails alone; the rows BigQuery stopped with it are sent again', async () => {
    const w = make('refused');
    // Passes the sink's own checks, but the table says title is REQUIRED.
    const bad = engagementEnvelope(20, { title: null as unknown as string });
    const good = [21, 22].map((n) => engagementEnvelope(n));
    const result = await w.write([good[0]!, bad, good[1]!]);
    expect(result.applied.sort()).toEqual(good.map((e) => e.id).sort());
    expect(result.failed.map((f) => [f.id, f.error.code, f.error.retryable])).toEqual([[bad.id, 'warehouse_rejected', false]]);
    expect(result.failed[0]!.error.message).toContain('title');
  });

  test('a throttled or failing BigQuery is a transient failure carrying the reason', async () => {
    const w = make('throttled');
    await w.prepare();
    standIn.failNext(2, 429);
    let error: AppError | undefined;
    try {
      await w.write([engagementEnvelope(30)]);
    } catch (e) {
      error = e as AppError;
    }
    expect(error?.retryable).toBe(true);
    expect(error?.message).toContain('rateLimitExceeded');
    standIn.failNext(0, 429);
    expect((await w.write([engagementEnvelope(30)])).applied).toHaveLength(1);
  });

  test('GoogleSQL is translated for the stand-in with typed parameters', () => {
    const { sql, values } = translate('SELECT COUNTIF(x) FROM `p.d.t` WHERE id IN UNNEST(@ids) AND day = @day', [
      { name: 'ids', parameterType: { type: 'ARRAY', arrayType: { type: 'INT64' } }, parameterValue: { arrayValues: [{ value: '1' }, { value: '2' }] } },
      { name: 'day', parameterType: { type: 'DATE' }, parameterValue: { value: '2026-01-01' } },
    ]);
    expect(sql).toBe(`SELECT count_if(x) FROM "d"."t" WHERE id IN (SELECT unnest(string_split($ids, ',')::BIGINT[])) AND day = CAST($day AS DATE)`);
    expect(values).toEqual({ ids: '1,2', day: '2026-01-01' });
  });
});
