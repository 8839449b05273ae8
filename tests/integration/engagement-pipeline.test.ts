import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Redis from 'ioredis';
import { ConfigResourceTypes } from 'kafkajs';
import { CDC_WORKER, PROCESSOR_WORKER, spawnPipelineWorker } from '../../src/features/engagement/index.ts';
import { liveKeys } from '../../src/features/engagement/keys.ts';
import { services, skipReason, waitFor, type TestApp } from '../helpers/index.ts';
import { CONTENT, insertContent, insertEvents, kafkaAdminClient, pipelineEnv, startPipeline, user, type RunningPipeline } from './engagement-fixture.ts';

describe.skipIf(!!skipReason('postgres', 'kafka', 'redis'))('engagement pipeline from Postgres to Redis on the real services', () => {
  const { env, names } = pipelineEnv({ CDC_HEARTBEAT_SECONDS: '1' });
  let pipeline: RunningPipeline;
  let t: TestApp;
  let sql: RunningPipeline['sql'];
  let redis: Redis;

  beforeAll(async () => {
    pipeline = await startPipeline({ env, names });
    ({ t, sql } = pipeline);
    redis = new Redis(services.redis!);
    await insertContent(sql, Object.values(CONTENT));
  }, 90_000);

  afterAll(async () => {
    redis?.disconnect();
    await pipeline?.close();
  }, 60_000);

  test('rows inserted in Postgres show in /top-content and /content/:id/stats with exact figures', async () => {
    const { podcast, video, newsletter } = CONTENT;
    let last: unknown;
    await insertEvents(sql, [
      { content_id: podcast.id, user_id: user(1), event_type: 'play', duration_ms: null },
      { content_id: podcast.id, user_id: user(1), event_type: 'pause', duration_ms: 30_000 },
      { content_id: podcast.id, user_id: user(2), event_type: 'play', duration_ms: null },
      { content_id: podcast.id, user_id: user(2), event_type: 'finish', duration_ms: 300_000 },
      { content_id: podcast.id, user_id: user(3), event_type: 'play', duration_ms: null },
      { content_id: video.id, user_id: user(1), event_type: 'play', duration_ms: null },
      // 1,200 s of a 600 s video: 200 % by the data, capped at 100 and flagged.
      { content_id: video.id, user_id: user(1), event_type: 'pause', duration_ms: 1_200_000 },
      // The newsletter has no length: completion is null, never 0.
      { content_id: newsletter.id, user_id: user(4), event_type: 'click', duration_ms: null },
      { content_id: newsletter.id, user_id: user(5), event_type: 'click', duration_ms: null },
      { content_id: newsletter.id, user_id: user(4), event_type: 'click', duration_ms: 5_000 },
    ]);
    const top = await waitFor(
      async () => {
        const { body } = await t.json('/top-content');
        last = body;
        return body.items?.reduce((n: number, i: { events: number }) => n + i.events, 0) === 10 ? body : undefined;
      },
      { timeoutMs: 30_000, what: '10 events in /top-content' },
    ).catch((e) => {
      throw new Error(`${e.message}; last answer: ${JSON.stringify(last)}`);
    });
    expect(top).toEqual({
      window_minutes: 10,
      items: [
        { content_id: podcast.id, slug: 'pod-1', title: 'Pod one', content_type: 'podcast', events: 5, unique_users: 3, engagement_seconds: 330, avg_completion_pct: 55 , events_per_minute: expect.any(Array) },
        { content_id: newsletter.id, slug: 'news-1', title: 'Letter one', content_type: 'newsletter', events: 3, unique_users: 2, engagement_seconds: 5, avg_completion_pct: null , events_per_minute: expect.any(Array) },
        { content_id: video.id, slug: 'vid-1', title: 'Video one', content_type: 'video', events: 2, unique_users: 1, engagement_seconds: 1200, avg_completion_pct: 100 , events_per_minute: expect.any(Array) },
      ],
    });
    const stats = await t.json(`/content/${podcast.id}/stats?window_minutes=5`);
    expect(stats.status).toBe(200);
    expect(stats.body).toEqual({
      content_id: podcast.id,
      window_minutes: 5,
      events: 5,
      counts: { play: 3, pause: 1, finish: 1, click: 0 },
      unique_users: 3,
      total_engagement_seconds: 330,
      avg_engagement_seconds: 165,
      avg_completion_pct: 55,
      events_per_minute: expect.any(Array),
    });
    // The minute buckets (oldest first) add up to the window's events, whichever minutes the rows fell in.
    for (const i of top.items) expect(i.events_per_minute.reduce((a: number, b: number) => a + b, 0)).toBe(i.events);
    expect(stats.body.events_per_minute).toHaveLength(5);
    expect(stats.body.events_per_minute.reduce((a: number, b: number) => a + b, 0)).toBe(5);
  }, 120_000);

  test('/top-content filters by content type and limits the list', async () => {
    const { body } = await t.json('/top-content?content_type=video');
    expect(body.items.map((i: { content_id: string }) => i.content_id)).toEqual([CONTENT.video.id]);
    const limited = await t.json('/top-content?limit=1');
    expect(limited.body.items).toHaveLength(1);
    expect(limited.body.items[0].content_id).toBe(CONTENT.podcast.id);
  }, 120_000);

  test('recent events come newest first with the derived measures, and the cap is flagged', async () => {
    const { body } = await t.json(`/content/${CONTENT.video.id}/recent-events`);
    expect(body.items).toHaveLength(2);
    expect(body.items[0]).toMatchObject({ event_type: 'pause', duration_ms: 1_200_000, engagement_seconds: 1200, engagement_pct: 100, engagement_pct_capped: true });
    expect(body.items[1]).toMatchObject({ event_type: 'play', engagement_seconds: null, engagement_pct: null, engagement_pct_capped: false });
    expect(Number(body.items[0].id)).toBeGreaterThan(Number(body.items[1].id));
    const two = await t.json(`/content/${CONTENT.podcast.id}/recent-events?count=2`);
    expect(two.body.items).toHaveLength(2);
  }, 120_000);

  test('/health shows the pipeline ok with slot lag, consumer lag per partition and the last commit time', async () => {
    const report = await waitFor(
      async () => {
        const { body } = await t.json('/health');
        const e = body.details.engagement;
        return e?.status === 'ok' && e.consumer?.total_lag === 0 && e.last_commit_at ? body : undefined;
      },
      { timeoutMs: 20_000, what: 'the pipeline to report itself caught up' },
    );
    const e = report.details.engagement;
    expect(report.components.engagement).toBe('ok');
    expect(e.slot).toMatchObject({ name: names.slot, active: true });
    expect(e.slot.lag_bytes).toBeNumber();
    expect(Object.keys(e.consumer.lag).sort()).toEqual(['0', '1', '2']);
    expect(Date.parse(e.last_commit_at)).toBeGreaterThan(0);
    // Workers send their metrics to the app once a second.
    const metrics = await waitFor(
      async () => {
        const text = await (await t.request('/metrics')).text();
        // On first use Redis is built from the warehouse, which may already hold some of these events (the sinks
        // run in parallel): those are then reported as duplicates. Either way each event is settled once.
        const redis = (outcome: string) => Number(new RegExp(`sillage_engagement_sink_events_total\\{sink="redis",outcome="${outcome}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
        const both = redis('applied') + redis('duplicate') === 10 && /sillage_engagement_cdc_records_total\{topic="[^"]+\.events"\} 10\b/.test(text);
        return both ? text : undefined;
      },
      { timeoutMs: 10_000, what: 'the CDC and processor metrics to reach the app' },
    );
    expect(metrics).toMatch(/sillage_engagement_cdc_records_total\{topic="[^"]+\.content"\} 3\b/);
    expect(metrics).toMatch(/sillage_engagement_cdc_slot_lag_bytes \d+/);
    expect(metrics).toMatch(/sillage_engagement_consumer_lag\{partition="2"\} \d+/);
    expect(metrics).toContain('sillage_engagement_end_to_end_seconds_bucket');
    expect(metrics).toMatch(/sillage_engagement_redis_end_to_end_seconds_count \d+/);
  }, 120_000);

  test('a content update flows through the compacted content topic into the enrichment of later events', async () => {
    await sql`UPDATE content SET title = 'Video one, recut', length_seconds = 1200 WHERE id = ${CONTENT.video.id}`;
    await waitFor(
      async () => {
        await insertEvents(sql, [{ content_id: CONTENT.video.id, user_id: user(9), event_type: 'pause', duration_ms: 600_000 }]);
        const { body } = await t.json(`/content/${CONTENT.video.id}/recent-events?count=1`);
        return body.items[0]?.engagement_pct === 50;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: 'an event enriched with the new length (600 s of 1,200 s = 50 %)' },
    );
    const { body } = await t.json('/top-content?content_type=video');
    expect(body.items[0].title).toBe('Video one, recut');
  }, 120_000);

  test('the CDC slot is a durable pgoutput slot and the content topic is compacted; the events topic keeps its history by time', async () => {
    const [slot] = await sql`SELECT slot_type, plugin, temporary FROM pg_replication_slots WHERE slot_name = ${names.slot}`;
    expect(slot).toEqual({ slot_type: 'logical', plugin: 'pgoutput', temporary: false });
    const admin = kafkaAdminClient().admin();
    await admin.connect();
    try {
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [names.contentTopic, names.eventsTopic].map((name) => ({ type: ConfigResourceTypes.TOPIC, name, configNames: ['cleanup.policy'] })),
      });
      const policy = (topic: string) => resources.find((r) => r.resourceName === topic)?.configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue;
      expect(policy(names.contentTopic)).toBe('compact');
      expect(policy(names.eventsTopic)).toBe('delete');
      const [meta] = (await admin.fetchTopicMetadata({ topics: [names.contentTopic] })).topics;
      expect(meta!.partitions).toHaveLength(3);
    } finally {
      await admin.disconnect();
    }
  });

  test('an idle relay confirms the server position, so its slot does not hold back WAL written elsewhere', async () => {
    // WAL that this publication never sees (a message for no one), then the slot must catch up with it anyway.
    const [row] = await sql<{ lsn: string }[]>`SELECT pg_logical_emit_message(false, 'sillage-test', 'elsewhere')::text AS lsn`;
    const lsn = row!.lsn;
    await waitFor(
      async () => {
        const [row] = await sql`SELECT confirmed_flush_lsn >= ${lsn}::pg_lsn AS caught_up FROM pg_replication_slots WHERE slot_name = ${names.slot}`;
        return row?.caught_up;
      },
      { timeoutMs: 20_000, what: 'the idle slot to confirm past WAL it was never sent' },
    );
  }, 60_000);

  test('restarting the CDC relay and the processor mid-stream loses nothing and counts nothing twice', async () => {
    const applied = liveKeys(env.REDIS_KEY_PREFIX!).applied;
    const before = Number(await redis.get(applied));
    const chunk = (n: number) =>
      Array.from({ length: 200 }, (_, i) => ({ content_id: CONTENT.podcast.id, user_id: user(1000 + n * 200 + i), event_type: i % 2 ? 'pause' : 'play', duration_ms: 1000 }));
    for (let n = 0; n < 3; n++) await insertEvents(sql, chunk(n));
    // Kill both without letting them finish what they hold (terminate at once), while changes keep coming.
    await Promise.all([t.ctx.workers.get(CDC_WORKER)!.stop(0), t.ctx.workers.get(PROCESSOR_WORKER)!.stop(0)]);
    // The slot outlives its reader (a temporary one would be gone, and the changes made meanwhile with it).
    expect([...(await sql`SELECT temporary FROM pg_replication_slots WHERE slot_name = ${names.slot}`)]).toEqual([{ temporary: false }]);
    for (let n = 3; n < 6; n++) await insertEvents(sql, chunk(n));
    spawnPipelineWorker(t.ctx, CDC_WORKER);
    spawnPipelineWorker(t.ctx, PROCESSOR_WORKER);
    for (let n = 6; n < 10; n++) await insertEvents(sql, chunk(n));
    await waitFor(async () => Number(await redis.get(applied)) - before >= 2000, { timeoutMs: 60_000, what: '2,000 more events applied' });
    // Let any replayed duplicates arrive, then check that none was counted.
    await waitFor(async () => (await t.json('/health')).body.details.engagement?.consumer?.total_lag === 0, { timeoutMs: 30_000, what: 'the processor to catch up' });
    expect(Number(await redis.get(applied)) - before).toBe(2000);
    const { body } = await t.json(`/content/${CONTENT.podcast.id}/stats`);
    expect(body.events).toBe(5 + 2000);
    expect(body.counts).toEqual({ play: 3 + 1000, pause: 1 + 1000, finish: 1, click: 0 });
    expect(body.total_engagement_seconds).toBe(330 + 2000);
  }, 180_000);
});
