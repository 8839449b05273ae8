import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Redis from 'ioredis';
import postgres from 'postgres';
import { liveKeys } from '../../src/features/engagement/keys.ts';
import { services, skipReason, testApp, waitFor, type TestApp } from '../helpers/index.ts';
import { tcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { CONTENT, cleanupPipeline, committedOffsets, groupLag, insertContent, insertEvents, pipelineEnv, produceRaw, readTopic, startPipeline, user, waitForCdc, type RunningPipeline } from './engagement-fixture.ts';

const skip = skipReason('postgres', 'kafka', 'redis');

const validMessage = (id: number, overrides: Record<string, unknown> = {}) =>
  JSON.stringify({ id: String(id), content_id: CONTENT.video.id, user_id: user(id), event_type: 'play', event_ts: new Date().toISOString(), duration_ms: 1000, device: 'tv', raw_payload: null, ...overrides });

describe.skipIf(!!skip)('engagement pipeline with bad inputs and a Redis outage', () => {
  let proxy: TcpProxy;
  let setup: ReturnType<typeof pipelineEnv>;
  let pipeline: RunningPipeline;
  let t: TestApp;
  let sql: RunningPipeline['sql'];
  let redis: Redis;

  beforeAll(async () => {
    const [host, port] = ['127.0.0.1', Number(new URL(services.redis!).port || 6379)];
    proxy = await tcpProxy({ host, port });
    setup = pipelineEnv({ REDIS_URL: proxy.url('redis') });
    pipeline = await startPipeline(setup);
    ({ t, sql } = pipeline);
    redis = new Redis(services.redis!);
    await insertContent(sql, Object.values(CONTENT));
  }, 90_000);

  afterAll(async () => {
    redis?.disconnect();
    try {
      await pipeline?.close();
    } finally {
      await proxy?.stop();
    }
  }, 60_000);

  const stats = async (id: string) => (await t.json(`/content/${id}/stats`)).body;

  test('malformed, wrong-schema, negative-duration and unknown-content messages go to the DLQ with a reason and their original bytes; the consumer goes on', async () => {
    const { eventsTopic, dlqTopic } = setup.names;
    const notJson = Buffer.from([0x7b, 0x6e, 0x6f, 0x74, 0xff, 0x00]);
    const like = validMessage(900_001, { event_type: 'like' });
    await produceRaw(eventsTopic, [
      { key: 'k1', value: notJson, headers: { 'message-id': 'bad:1' } },
      { key: 'k2', value: like },
      { key: 'k3', value: validMessage(900_002, { user_id: undefined }) },
      { key: 'k4', value: validMessage(900_003, { duration_ms: -5 }) },
      { key: 'k5', value: validMessage(900_004, { content_id: 'cccccccc-0000-4000-8000-000000000009' }) },
      { key: 'k6', value: null },
      // A good event after all of them: it must still be applied.
      { key: CONTENT.video.id, value: validMessage(900_005) },
    ]);
    const letters = await readTopic(dlqTopic, 6, 60_000);
    const byKey = new Map(letters.map((l) => [l.key, l]));
    expect(byKey.get('k1')!.headers['dlq-reason']).toBe('malformed_json');
    expect(byKey.get('k1')!.value).toEqual(notJson);
    expect(byKey.get('k1')!.headers['dlq-source-topic']).toBe(eventsTopic);
    expect(byKey.get('k2')!.headers['dlq-reason']).toBe('invalid_event');
    expect(byKey.get('k2')!.headers['dlq-error']).toContain('event_type');
    expect(byKey.get('k2')!.value!.toString()).toBe(like);
    expect(byKey.get('k3')!.headers['dlq-error']).toContain('user_id');
    expect(byKey.get('k4')!.headers['dlq-reason']).toBe('invalid_event');
    expect(byKey.get('k4')!.headers['dlq-error']).toContain('duration_ms');
    expect(byKey.get('k5')!.headers['dlq-reason']).toBe('unknown_content');
    expect(byKey.get('k5')!.headers['message-id']).toBe('engagement_events:900004');
    expect(byKey.get('k6')!.headers['dlq-reason']).toBe('malformed_message');
    await waitFor(async () => (await stats(CONTENT.video.id)).events === 1, { timeoutMs: 30_000, what: 'the good event after the bad ones' });
    const metrics = await waitFor(async () => {
      const text = await (await t.request('/metrics')).text();
      return text.includes('sillage_engagement_dlq_total{reason="unknown_content"} 1') ? text : undefined;
    }, { timeoutMs: 10_000, what: 'DLQ metrics' });
    expect(metrics).toContain('sillage_engagement_dlq_total{reason="invalid_event"} 3');
  }, 120_000);

  test('an event row without content (null content_id) is dead-lettered as unknown_content with the bytes CDC produced', async () => {
    await insertEvents(sql, [{ content_id: null, user_id: user(77), event_type: 'click', duration_ms: null }]);
    const letters = await readTopic(setup.names.dlqTopic, 7, 60_000);
    const letter = letters.find((l) => l.headers['dlq-reason'] === 'unknown_content' && l.headers['dlq-error']?.includes('no content_id'));
    expect(letter).toBeDefined();
    expect(JSON.parse(letter!.value!.toString())).toMatchObject({ content_id: null, user_id: user(77), event_type: 'click' });
    expect(letter!.headers['source']).toBe(`postgres:${setup.names.schema}.engagement_events`);
  }, 120_000);

  test('redelivering the same records changes nothing', async () => {
    const before = await stats(CONTENT.podcast.id);
    await insertEvents(sql, Array.from({ length: 20 }, (_, i) => ({ content_id: CONTENT.podcast.id, user_id: user(i), event_type: 'play', duration_ms: 2000 })));
    await waitFor(async () => (await stats(CONTENT.podcast.id)).events === before.events + 20, { timeoutMs: 30_000, what: '20 podcast events' });
    const applied = Number(await redis.get(liveKeys(setup.env.REDIS_KEY_PREFIX!).applied));
    // Produce every record of the topic a second time, byte for byte with its headers: what a replay after a crash does.
    const all = await readTopic(setup.names.eventsTopic);
    await produceRaw(setup.names.eventsTopic, all.map((m) => ({ key: m.key, value: m.value, headers: m.headers })));
    await waitFor(async () => (await groupLag(setup.names.group, setup.names.eventsTopic)) === 0, { timeoutMs: 30_000, what: 'the processor to consume the replay' });
    expect(Number(await redis.get(liveKeys(setup.env.REDIS_KEY_PREFIX!).applied))).toBe(applied);
    const after = await stats(CONTENT.podcast.id);
    expect(after).toEqual({ ...before, events: before.events + 20, counts: { ...before.counts, play: before.counts.play + 20 }, unique_users: after.unique_users, total_engagement_seconds: before.total_engagement_seconds + 40, avg_engagement_seconds: 2, avg_completion_pct: after.avg_completion_pct, events_per_minute: after.events_per_minute });
    expect(after.events_per_minute.reduce((a: number, b: number) => a + b, 0)).toBe(after.events);
  }, 120_000);

  test('while Redis is down the batch is retried and not committed; after Redis returns each event counts once', async () => {
    const { group, eventsTopic } = setup.names;
    const before = await stats(CONTENT.newsletter.id);
    await waitFor(async () => (await groupLag(group, eventsTopic)) === 0, { timeoutMs: 30_000, what: 'a caught-up processor' });
    const committedBefore = await committedOffsets(group, eventsTopic);
    await proxy.stop();
    await insertEvents(sql, Array.from({ length: 50 }, (_, i) => ({ content_id: CONTENT.newsletter.id, user_id: user(500 + i), event_type: 'click', duration_ms: 100 })));
    const health = await waitFor(
      async () => {
        const h = await t.json('/health');
        return h.body.workers['engagement-processor']?.retrying?.sink === 'redis' ? h : undefined;
      },
      { timeoutMs: 30_000, what: 'the processor to retry the Redis sink' },
    );
    expect(health.status).toBe(503);
    expect(health.body.components.redis).toBe('down');
    expect(await committedOffsets(group, eventsTopic)).toEqual(committedBefore);
    expect(await groupLag(group, eventsTopic)).toBeGreaterThanOrEqual(50);
    await proxy.start();
    await waitFor(async () => (await groupLag(group, eventsTopic)) === 0, { timeoutMs: 60_000, what: 'the batch to be committed after Redis came back' });
    const after = await stats(CONTENT.newsletter.id);
    expect(after.events).toBe(before.events + 50);
    expect(after.counts.click).toBe(before.counts.click + 50);
    expect(after.total_engagement_seconds).toBe(before.total_engagement_seconds + 5);
    await waitFor(async () => (await t.json('/health')).body.workers['engagement-processor']?.retrying === null, { timeoutMs: 10_000, what: 'the retry state to clear' });
  }, 150_000);
});

describe.skipIf(!!skip)('engagement pipeline when Kafka is unreachable at start', () => {
  test('/health is down while Kafka cannot be reached, the workers keep retrying, and the pipeline recovers when it can', async () => {
    const [host, port] = (services.kafka![0]!).split(':');
    const proxy = await tcpProxy({ host: host!, port: Number(port) }, { listening: false });
    const setup = pipelineEnv({ KAFKA_BOOTSTRAP_SERVERS: `127.0.0.1:${proxy.port}` });
    const t = await testApp(setup.env);
    const sql = postgres(services.postgres!, { onnotice: () => {}, max: 1, connection: { search_path: setup.names.schema } });
    try {
      const down = await waitFor(
        async () => {
          const h = await t.json('/health');
          return h.body.components.kafka === 'down' && h.body.components.engagement === 'down' ? h : undefined;
        },
        { timeoutMs: 60_000, what: 'health to report Kafka and the pipeline down' },
      );
      expect(down.status).toBe(503);
      expect(down.body.details.kafka.reason).toBeString();
      expect(down.body.details.engagement.reason).toBeString();
      await proxy.start();
      await waitFor(async () => (await t.json('/health')).status === 200, { timeoutMs: 90_000, what: 'health to recover' });
      await t.ctx.stores.postgres!.migrate();
      await waitForCdc(sql, setup.names);
      await insertContent(sql, [CONTENT.podcast]);
      await insertEvents(sql, [{ content_id: CONTENT.podcast.id, user_id: user(1), event_type: 'finish', duration_ms: 300_000 }]);
      await waitFor(async () => (await t.json(`/content/${CONTENT.podcast.id}/stats`)).body.counts?.finish === 1, { timeoutMs: 60_000, what: 'an event to flow after recovery' });
    } finally {
      try {
        await t.close();
        await sql.end();
        await proxy.stop();
      } finally {
        await cleanupPipeline(setup.names, setup.env.REDIS_KEY_PREFIX!);
      }
    }
  }, 240_000);
});
