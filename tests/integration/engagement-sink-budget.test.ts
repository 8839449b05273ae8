import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import Redis from 'ioredis';
import type { Producer } from 'kafkajs';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContentCatalogue, contentLookup } from '../../src/features/engagement/catalogue.ts';
import { findDeadLetters } from '../../src/features/engagement/dead-letters.ts';
import { engagementDeadLetters } from '../../src/features/engagement/dead-letters.ts';
import { liveKeys } from '../../src/features/engagement/keys.ts';
import { topContent } from '../../src/features/engagement/live.ts';
import { processBatch, type ProcessorDeps } from '../../src/features/engagement/processor.ts';
import { RedisEngagementSink } from '../../src/features/engagement/redis-sink.ts';
import { replayDeadLetters } from '../../src/features/engagement/replay.ts';
import { openSinks, STORE_SINK_BUDGET_MS, type EngagementSinks } from '../../src/features/engagement/sinks.ts';
import { ensurePipelineTopics } from '../../src/features/engagement/topics.ts';
import { systemClock, type Clock } from '../../src/platform/clock.ts';
import { memoryLogger } from '../../src/platform/log.ts';
import { FanOut } from '../../src/platform/stream/fanout.ts';
import type { SourceBatch } from '../../src/platform/stream/source.ts';
import { MESSAGE_ID_HEADER, type SourceRecord } from '../../src/platform/stream/types.ts';
import { openPostgres, type PostgresStore } from '../../src/platform/stores/postgres.ts';
import { ROOT, services, skipReason, tempDir } from '../helpers/index.ts';
import { CONTENT, cleanupPipeline, insertContent, kafkaAdminClient, pipelineEnv, readTopic, user } from './engagement-fixture.ts';

setDefaultTimeout(60_000);

/**
 * Starts at the real time (the events' time) and moves only by the waits, which pass at once: a minute of retry
 * budget is spent without waiting a minute.
 */
function skippingClock() {
  const start = Date.now();
  let skipped = 0;
  const clock: Clock = {
    now: () => start + skipped,
    sleep: async (ms, signal) => {
      if (signal?.aborted) throw signal.reason;
      skipped += ms;
    },
  };
  return { clock, skipped: () => skipped };
}

describe.skipIf(!!skipReason('postgres', 'kafka', 'redis'))('a sink failing past its retry budget', () => {
  const { env, names } = pipelineEnv({ ENGAGEMENT_PIPELINE: 'off' });
  const prefix = env.REDIS_KEY_PREFIX!;
  let pg: PostgresStore;
  let redis: Redis;
  let producer: Producer;
  let catalogue: ContentCatalogue;
  const log = memoryLogger();

  /** Records as the CDC relay writes them: the event's JSON and its message id. */
  const records = (ids: number[]): SourceRecord[] =>
    ids.map((id, i) => ({
      topic: names.eventsTopic,
      partition: 0,
      offset: String(id),
      key: Buffer.from(CONTENT.podcast.id),
      value: Buffer.from(
        JSON.stringify({ id: String(id), content_id: CONTENT.podcast.id, user_id: user(id), event_type: i % 2 ? 'pause' : 'play', event_ts: new Date().toISOString(), duration_ms: 1000, device: 'web', raw_payload: null }),
      ),
      headers: { [MESSAGE_ID_HEADER]: `engagement_events:${id}` },
      timestampMs: Date.now(),
    }));
  const sourceBatch = (recs: SourceRecord[]) => {
    const state = { commits: 0 };
    const batch: SourceBatch = { lane: `${names.eventsTopic}/0`, records: recs, commit: async () => void state.commits++ };
    return { batch, state };
  };
  const deps = (sinks: EngagementSinks, clock: Clock): ProcessorDeps => ({
    catalogue,
    fanOut: new FanOut({ sinks: sinks.entries, clock, log }),
    deadLetters: engagementDeadLetters({ producer, topic: names.dlqTopic, sql: pg.sql }),
    clock,
    log,
  });
  const liveEvents = async (keyPrefix: string) => (await topContent({ redis, prefix: keyPrefix, clock: systemClock }, { limit: 10, windowMinutes: 10 })).items.reduce((n, i) => n + i.events, 0);
  /** Redis that already holds live state (its epoch), so the sink applies at once instead of rebuilding first. */
  const liveRedis = async (keyPrefix: string) => void (await redis.set(liveKeys(keyPrefix).epoch, 'test'));
  const storeOptions = (keyPrefix: string, duckdbPath: string) => ({
    redisPrefix: keyPrefix,
    windowMinutes: 10,
    batchSize: 100,
    warehouse: { kind: 'duckdb' as const, schema: 'unused', duckdbPath, flushIntervalMs: 5 },
  });

  beforeAll(async () => {
    pg = openPostgres({ url: services.postgres!, schema: names.schema, migrationsDir: join(ROOT, 'db/postgres'), max: 2 });
    await pg.migrate();
    await insertContent(pg.sql as never, [CONTENT.podcast]);
    catalogue = new ContentCatalogue({ lookup: contentLookup(pg.sql), log });
    const admin = kafkaAdminClient().admin();
    await admin.connect();
    await ensurePipelineTopics(admin, names, 1);
    await admin.disconnect();
    producer = kafkaAdminClient().producer({ allowAutoTopicCreation: false, idempotent: true });
    await producer.connect();
    redis = new Redis(services.redis!);
  });

  afterAll(async () => {
    try {
      await producer?.disconnect();
      redis?.disconnect();
      await pg?.close();
    } finally {
      await cleanupPipeline(names, prefix);
    }
  });

  test('the warehouse unavailable for longer than its budget: its events go to the DLQ with the reason, Redis gets them, the batch commits; replay then stores each once', async () => {
    using dir = tempDir('sillage-budget-wh-');
    // A regular file where the warehouse's directory should be: every open fails (ENOTDIR), even as root.
    const blocked = join(dir.path, 'data');
    writeFileSync(blocked, '');
    const keyPrefix = `${prefix}wh:`;
    await liveRedis(keyPrefix);
    const { clock, skipped } = skippingClock();
    const sinks = await openSinks(storeOptions(keyPrefix, join(blocked, 'warehouse.duckdb')), { redis, clock });
    try {
      const ids = [101, 102, 103, 104, 105];
      const { batch, state } = sourceBatch(records(ids));
      const report = await processBatch(deps(sinks, clock), batch);

      expect(state.commits).toBe(1);
      expect(report.perSink.redis).toMatchObject({ applied: 5, deadLettered: 0 });
      expect(report.perSink.warehouse).toMatchObject({ applied: 0, deadLettered: 5 });
      expect(report.perSink.warehouse!.attempts).toBeGreaterThan(5);
      // The budget, and not one retry wait more: the batch moved on after a minute of retrying.
      expect(report.perSink.warehouse!.ms).toBe(STORE_SINK_BUDGET_MS);
      expect(skipped()).toBe(STORE_SINK_BUDGET_MS);
      expect(await liveEvents(keyPrefix)).toBe(5);

      const letters = await findDeadLetters(pg.sql, { sink: 'warehouse', pending: true, limit: 100 });
      expect(letters.map((l) => l.message_id).sort()).toEqual(ids.map((id) => `engagement_events:${id}`));
      expect(letters[0]).toMatchObject({ reason: 'warehouse_unavailable', attempts: report.perSink.warehouse!.attempts });
      expect(letters[0]!.error).toContain('make the directory writable');
      expect(letters[0]!.last_failure.getTime() - letters[0]!.first_failure.getTime()).toBe(STORE_SINK_BUDGET_MS);
      const topic = await readTopic(names.dlqTopic, 5);
      expect(topic.map((m) => m.headers['dlq-sink'])).toEqual(Array(5).fill('warehouse'));
      expect(topic[0]!.headers['dlq-reason']).toBe('warehouse_unavailable');

      // The disk is fixed: the replay stores each event once, and only in the warehouse.
      rmSync(blocked);
      mkdirSync(blocked);
      const replay = await replayDeadLetters({ sql: pg.sql, sinks: sinks.byName, catalogue, log }, { sink: 'warehouse', limit: 100 });
      expect(replay).toEqual({ replayed: 5, applied: 5, duplicates: 0, failed: [], remaining: 0 });
      expect(await sinks.warehouse.count()).toBe(5);
      expect(await liveEvents(keyPrefix)).toBe(5);
      expect(await replayDeadLetters({ sql: pg.sql, sinks: sinks.byName, catalogue, log }, { sink: 'warehouse', limit: 100 })).toEqual({ replayed: 0, applied: 0, duplicates: 0, failed: [], remaining: 0 });

      // Kafka redelivering the same batch now changes nothing anywhere.
      const again = await processBatch(deps(sinks, clock), sourceBatch(records(ids)).batch);
      expect(again.perSink.warehouse).toMatchObject({ applied: 0, duplicates: 5, deadLettered: 0 });
      expect(again.perSink.redis).toMatchObject({ applied: 0, duplicates: 5 });
      expect(await sinks.warehouse.count()).toBe(5);
      expect(await liveEvents(keyPrefix)).toBe(5);
    } finally {
      await sinks.close();
    }
  });

  test('Redis unreachable for longer than its budget: its events go to the DLQ, the warehouse gets them; replay counts each once in Redis, even one that got there meanwhile', async () => {
    using dir = tempDir('sillage-budget-redis-');
    const keyPrefix = `${prefix}redis:`;
    await liveRedis(keyPrefix);
    // Nothing listens on port 1: every command fails at once, as with a Redis that is down.
    const closed = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    closed.on('error', () => {});
    const { clock, skipped } = skippingClock();
    const sinks = await openSinks(storeOptions(keyPrefix, join(dir.path, 'warehouse.duckdb')), { redis: closed, clock });
    try {
      const ids = [201, 202, 203, 204];
      const { batch, state } = sourceBatch(records(ids));
      const report = await processBatch(deps(sinks, clock), batch);

      expect(state.commits).toBe(1);
      expect(report.perSink.warehouse).toMatchObject({ applied: 4, deadLettered: 0 });
      expect(report.perSink.redis).toMatchObject({ applied: 0, deadLettered: 4 });
      expect(skipped()).toBe(STORE_SINK_BUDGET_MS);
      const letters = await findDeadLetters(pg.sql, { sink: 'redis', pending: true, limit: 100 });
      expect(letters.map((l) => l.message_id).sort()).toEqual(ids.map((id) => `engagement_events:${id}`));
      expect(letters[0]!.reason).toBe('redis_unavailable');
      expect(await liveEvents(keyPrefix)).toBe(0);

      // Redis is back. The API's replay writes through a sink on a working connection.
      const replaySinks = new Map(sinks.byName);
      replaySinks.set('redis', new RedisEngagementSink({ redis, prefix: keyPrefix, windowMinutes: 10, clock: systemClock }));
      const first = await replayDeadLetters({ sql: pg.sql, sinks: replaySinks, catalogue, log }, { sink: 'redis', ids: ['201'], limit: 100 });
      expect(first).toMatchObject({ replayed: 1, applied: 1, duplicates: 0, remaining: 3 });
      // As if that letter were replayed twice (say, by two operators at once): the second time is a duplicate.
      await pg.sql`UPDATE dead_letters SET replayed_at = NULL WHERE message_id = 'engagement_events:201'`;
      const rest = await replayDeadLetters({ sql: pg.sql, sinks: replaySinks, catalogue, log }, { sink: 'redis', limit: 100 });
      expect(rest).toEqual({ replayed: 4, applied: 3, duplicates: 1, failed: [], remaining: 0 });
      expect(await liveEvents(keyPrefix)).toBe(4);
      expect(await redis.get(liveKeys(keyPrefix).applied)).toBe('4');
      expect(await sinks.warehouse.count()).toBe(4);
    } finally {
      await sinks.close();
      closed.disconnect();
    }
  });
});
