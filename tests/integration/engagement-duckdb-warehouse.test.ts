import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { skipReason, waitFor, type TestApp } from '../helpers/index.ts';
import { CONTENT, insertContent, insertEvents, pipelineEnv, startPipeline, user, type RunningPipeline } from './engagement-fixture.ts';

setDefaultTimeout(60_000);

describe.skipIf(!!skipReason('postgres', 'kafka', 'redis'))('the pipeline with WAREHOUSE=duckdb', () => {
  const { env, names } = pipelineEnv({ WAREHOUSE: 'duckdb', CDC_HEARTBEAT_SECONDS: '1' });
  let pipeline: RunningPipeline;
  let t: TestApp;
  let sql: RunningPipeline['sql'];

  beforeAll(async () => {
    pipeline = await startPipeline({ env, names });
    ({ t, sql } = pipeline);
    await insertContent(sql, Object.values(CONTENT));
  }, 90_000);

  afterAll(async () => {
    await pipeline?.close();
  }, 60_000);

  test('the processor worker owns the file and the API reads the views through it', async () => {
    await insertEvents(sql, [
      { content_id: CONTENT.video.id, user_id: user(1), event_type: 'play', duration_ms: null },
      { content_id: CONTENT.video.id, user_id: user(1), event_type: 'pause', duration_ms: 60_000 },
      { content_id: CONTENT.video.id, user_id: user(2), event_type: 'finish', duration_ms: 600_000 },
    ]);
    const today = new Date().toISOString().slice(0, 10);
    const daily = await waitFor(
      async () => {
        const { status, body } = await t.json(`/warehouse/daily?from=${today}&to=${today}`);
        return status === 200 && body.items[0]?.events === 3 ? body : undefined;
      },
      { timeoutMs: 30_000, what: 'three facts in the DuckDB warehouse' },
    );
    expect(daily.items).toEqual([
      { day: today, content_id: CONTENT.video.id, content_type: 'video', events: 3, plays: 1, pauses: 1, finishes: 1, clicks: 0, unique_users: 2, total_engagement_seconds: 660, avg_engagement_seconds: 330, avg_completion_pct: 55 },
    ]);
    const hourly = await t.json('/warehouse/hourly?content_type=video');
    expect(hourly.body.items.reduce((n: number, i: { events: number }) => n + i.events, 0)).toBe(3);
  });
});
