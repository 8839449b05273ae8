import Redis from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import postgres from 'postgres';
import { loadConfig } from '../../src/platform/config.ts';
import { dropReplication } from '../../src/features/engagement/cdc.ts';
import { engagementNames, type EngagementNames } from '../../src/features/engagement/names.ts';
import { services, testApp, uniqueName, waitFor, type TestApp } from '../helpers/index.ts';
import { deleteKeys } from '../helpers/redis.ts';
import { startRestReceiver, type RestReceiver } from '../helpers/rest-receiver.ts';

/**
 * Unique names for one engagement test (schema, topics, group, Redis prefix, slot and publication) and the
 * cleanup that removes all of them: a durable slot left behind would pin WAL on the shared server.
 */
export function pipelineEnv(extra: Record<string, string> = {}) {
  const id = uniqueName('eng');
  const env: Record<string, string> = {
    // Placeholders when a service is not configured: the suites using this skip, but describe bodies still run.
    DATABASE_URL: services.postgres ?? 'postgres://unset@127.0.0.1:1/unset',
    KAFKA_BOOTSTRAP_SERVERS: services.kafka?.join(',') ?? '127.0.0.1:1',
    REDIS_URL: services.redis ?? 'redis://127.0.0.1:1',
    DATABASE_SCHEMA: id,
    WAREHOUSE_SCHEMA: `${id}_wh`,
    WAREHOUSE_FLUSH_INTERVAL_MS: '50',
    REDIS_KEY_PREFIX: `${id}:`,
    KAFKA_TOPIC_ENGAGEMENT_EVENTS: `${id}.events`,
    KAFKA_TOPIC_CONTENT: `${id}.content`,
    KAFKA_CONSUMER_GROUP: `${id}.processor`,
    KAFKA_TOPIC_PARTITIONS: '3',
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
    ENGAGEMENT_PIPELINE: 'auto',
    // These tests poll the monitoring routes while they wait for the pipeline; the query rate limit has tests of its own.
    RATE_LIMIT_SEARCH_PER_MINUTE: '1000000',
    ...extra,
  };
  return { id, env, names: engagementNames(loadConfig(env)) };
}

export function kafkaAdminClient() {
  return new Kafka({ clientId: 'sillage-test', brokers: services.kafka!, logLevel: logLevel.NOTHING });
}

export async function cleanupPipeline(names: EngagementNames, prefix: string) {
  const sql = postgres(services.postgres!, { onnotice: () => {}, max: 1 });
  try {
    await dropReplication(sql, names);
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${names.schema}" CASCADE`);
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${names.schema}_wh" CASCADE`);
  } finally {
    await sql.end();
  }
  const admin = kafkaAdminClient().admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => [names.eventsTopic, names.contentTopic, names.dlqTopic].includes(t));
    if (topics.length) await admin.deleteTopics({ topics });
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(names.group));
    if (groups.length) await admin.deleteGroups(groups).catch(() => {});
  } finally {
    await admin.disconnect();
  }
  const redis = new Redis(services.redis!);
  try {
    await deleteKeys(redis, prefix);
  } finally {
    redis.disconnect();
  }
}

export async function waitForCdc(sql: postgres.Sql, names: EngagementNames) {
  await waitFor(async () => (await sql`SELECT active FROM pg_replication_slots WHERE slot_name = ${names.slot}`)[0]?.active, { timeoutMs: 60_000, what: 'the CDC relay to stream its slot' });
}

export type RunningPipeline = { t: TestApp; sql: postgres.Sql; close(): Promise<void> };

/**
 * The app on `env` and a client on the test's schema (as `env.DATABASE_URL`), once the source tables are there:
 * the CDC relay migrates them before it streams its slot; with ENGAGEMENT_PIPELINE=off nothing would, so this does.
 * close() stops both and then removes everything the test created, even when stopping failed. A start that fails
 * cleans up as well, since the caller never gets anything to close.
 */
export async function startPipeline({ env, names }: { env: Record<string, string>; names: EngagementNames }): Promise<RunningPipeline> {
  let t: TestApp | undefined;
  const sql = postgres(env.DATABASE_URL!, { onnotice: () => {}, max: 2, connection: { search_path: names.schema } });
  const close = async () => {
    try {
      await t?.close();
      await sql.end();
    } finally {
      await cleanupPipeline(names, env.REDIS_KEY_PREFIX!);
    }
  };
  try {
    t = await testApp(env);
    if (env.ENGAGEMENT_PIPELINE === 'off') await t.ctx.stores.postgres!.migrate();
    else await waitForCdc(sql, names);
  } catch (e) {
    // The start's own error says what went wrong; a failure while cleaning up after it would hide it.
    await close().catch(() => {});
    throw e;
  }
  return { t, sql, close };
}

export type RestPipeline = RunningPipeline & { receiver: RestReceiver };

/** startPipeline with a local REST receiver as the external system (EXTERNAL_SINK_URL); close() stops it last. */
export async function startPipelineWithRest({ env, names }: { env: Record<string, string>; names: EngagementNames }): Promise<RestPipeline> {
  const receiver = await startRestReceiver();
  try {
    const pipeline = await startPipeline({ env: { ...env, EXTERNAL_SINK_URL: receiver.url }, names });
    const close = async () => {
      try {
        await pipeline.close();
      } finally {
        await receiver.close();
      }
    };
    return { ...pipeline, receiver, close };
  } catch (e) {
    await receiver.close();
    throw e;
  }
}

export const CONTENT = {
  podcast: { id: 'aaaaaaaa-0000-4000-8000-000000000001', slug: 'pod-1', title: 'Pod one', content_type: 'podcast', length_seconds: 300 },
  video: { id: 'aaaaaaaa-0000-4000-8000-000000000002', slug: 'vid-1', title: 'Video one', content_type: 'video', length_seconds: 600 },
  newsletter: { id: 'aaaaaaaa-0000-4000-8000-000000000003', slug: 'news-1', title: 'Letter one', content_type: 'newsletter', length_seconds: null },
} as const;

export const user = (n: number) => `bbbbbbbb-0000-4000-8000-${String(n).padStart(12, '0')}`;

export type EventRow = { content_id: string | null; user_id: string; event_type: string; duration_ms: number | null; event_ts?: Date; device?: string };

export async function insertContent(sql: postgres.Sql, rows: readonly { id: string; slug: string; title: string; content_type: string; length_seconds: number | null }[]) {
  await sql`INSERT INTO content ${sql(rows.map((r) => ({ ...r, publish_ts: new Date('2026-11-01T00:00:00Z') })))}`;
}

export async function insertEvents(sql: postgres.Sql, rows: EventRow[]) {
  const now = new Date();
  await sql`INSERT INTO engagement_events ${sql(rows.map((r) => ({ device: 'web', ...r, event_ts: r.event_ts ?? now, raw_payload: null })))}`;
}

export type TopicMessage = { key: string | null; value: Buffer | null; headers: Record<string, string>; partition: number; offset: string };

/**
 * Reads a topic from the beginning until `count` messages arrived, or (count undefined) until the end offsets
 * the topic had when the read started (transaction markers take offsets too, so offsets are not a count).
 */
export async function readTopic(topic: string, count?: number, timeoutMs = 30_000): Promise<TopicMessage[]> {
  const client = kafkaAdminClient();
  const admin = client.admin();
  await admin.connect();
  const ends = new Map<number, bigint>();
  for (const p of await admin.fetchTopicOffsets(topic)) if (BigInt(p.high) > BigInt(p.low)) ends.set(p.partition, BigInt(p.high));
  const groupId = `${topic}.reader.${crypto.randomUUID()}`;
  const consumer = client.consumer({ groupId, maxWaitTimeInMs: 200 });
  const got: TopicMessage[] = [];
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const check = () => (count !== undefined ? got.length >= count : ends.size === 0) && done();
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const end = ends.get(payload.partition);
    if (end !== undefined && BigInt(payload.lastOffset) + 1n >= end) ends.delete(payload.partition);
    check();
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message, partition }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        got.push({ key: message.key?.toString() ?? null, value: message.value, headers, partition, offset: message.offset });
        check();
      },
    });
    check();
    let timer: Timer | undefined;
    await Promise.race([finished, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`Read ${got.length} of ${count ?? 'all'} messages from ${topic} within ${timeoutMs} ms`)), timeoutMs)))]);
    clearTimeout(timer);
    return got;
  } finally {
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => {});
    await admin.disconnect();
  }
}

export async function produceRaw(topic: string, messages: { key?: string | null; value: string | Buffer | null; headers?: Record<string, string> }[]) {
  const producer = kafkaAdminClient().producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
}

/** Offsets (not records: transaction markers take one each) between the group's commits and the ends of the topic. */
export async function groupLag(group: string, topic: string) {
  const admin = kafkaAdminClient().admin();
  await admin.connect();
  try {
    const [ends, [committed]] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId: group, topics: [topic] })]);
    const at = new Map((committed?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
    return ends.reduce((n, p) => n + Number(BigInt(p.high) - ((at.get(p.partition) ?? -1n) < 0n ? BigInt(p.low) : at.get(p.partition)!)), 0);
  } finally {
    await admin.disconnect();
  }
}

export async function committedOffsets(group: string, topic: string): Promise<Record<number, string>> {
  const admin = kafkaAdminClient().admin();
  await admin.connect();
  try {
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return Object.fromEntries((committed?.partitions ?? []).map((p) => [p.partition, p.offset]));
  } finally {
    await admin.disconnect();
  }
}
