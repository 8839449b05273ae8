import Redis from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import postgres from 'postgres';
import { loadConfig } from '../../src/platform/config.ts';
import { dropReplication } from '../../src/features/engagement/cdc.ts';
import { engagementNames, type EngagementNames } from '../../src/features/engagement/names.ts';
import { services, uniqueName } from '../helpers/index.ts';

/**
 * Unique names for one engagement test (schema, topics, group, Redis prefix, slot and publication) and the
 * cleanup that removes all of them: a durable slot left behind would pin WAL on the shared server.
 */
export function pipelineEnv(extra: Record<string, string> = {}) {
  const id = uniqueName('eng');
  const env: Record<string, string> = {
    DATABASE_URL: services.postgres!,
    KAFKA_BOOTSTRAP_SERVERS: services.kafka!.join(','),
    REDIS_URL: services.redis!,
    DATABASE_SCHEMA: id,
    REDIS_KEY_PREFIX: `${id}:`,
    KAFKA_TOPIC_ENGAGEMENT_EVENTS: `${id}.events`,
    KAFKA_TOPIC_CONTENT: `${id}.content`,
    KAFKA_CONSUMER_GROUP: `${id}.processor`,
    KAFKA_TOPIC_PARTITIONS: '3',
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
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
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
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
