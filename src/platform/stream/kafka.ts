import { Partitioners, type Admin, type Consumer, type ITopicConfig, type Kafka, type Producer, type ProducerConfig } from 'kafkajs';
import type { Logger } from '../log.ts';
import type { Source, SourceBatch } from './source.ts';
import { headersToStrings, type SourceRecord } from './types.ts';

export type TopicSpec = { topic: string; partitions: number; compacted?: boolean; config?: Record<string, string> };

/** Creates the topics that do not exist yet (the broker does not auto-create them); existing ones are left alone. */
export async function ensureTopics(admin: Admin, specs: TopicSpec[]): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !existing.has(s.topic));
  if (!missing.length) return [];
  const topics: ITopicConfig[] = missing.map((s) => ({
    topic: s.topic,
    numPartitions: s.partitions,
    replicationFactor: -1,
    configEntries: Object.entries({ ...(s.compacted ? { 'cleanup.policy': 'compact' } : {}), ...s.config }).map(([name, value]) => ({ name, value })),
  }));
  try {
    await admin.createTopics({ topics, waitForLeaders: true });
  } catch (error) {
    // Another process may have created them between listTopics and createTopics.
    if (!/already exists/i.test(String((error as Error).message))) throw error;
  }
  return missing.map((s) => s.topic);
}

/**
 * An idempotent producer (acks=all, broker-side dedupe of retried sends) with the Java client's partitioner, so
 * the same key lands on the same partition whichever client produced it.
 */
export function idempotentProducer(kafka: Kafka, extra: Partial<ProducerConfig> = {}): Producer {
  return kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner, ...extra });
}

export type KafkaSourceOptions = {
  kafka: Kafka;
  topic: string;
  groupId: string;
  /** Most records handed over at once. */
  batchSize: number;
  /** Longest the broker holds a fetch waiting for data; bounds the wait for a partial batch. */
  maxWaitMs: number;
  log: Logger;
  fromBeginning?: boolean;
  /** Partitions processed at the same time by this instance. */
  concurrency?: number;
  /** Called on the consumer before it joins the group (tests and status probes). */
  onConsumer?: (consumer: Consumer) => void;
};

/**
 * A Kafka consumer group as a Source. Offsets are committed only through `SourceBatch.commit()`, never
 * automatically, and it reads committed records only (transactional producers' aborted records are skipped).
 * A fetch larger than `batchSize` is handed over in slices, each committed on its own.
 */
export class KafkaSource implements Source {
  readonly name: string;
  constructor(private options: KafkaSourceOptions) {
    this.name = `kafka:${options.topic}`;
  }

  async run(handle: (batch: SourceBatch) => Promise<void>, signal: AbortSignal): Promise<void> {
    const { kafka, topic, groupId, batchSize, maxWaitMs, log } = this.options;
    const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: maxWaitMs, minBytes: 1, sessionTimeout: 30_000, heartbeatInterval: 3000 });
    this.options.onConsumer?.(consumer);
    let crashed: ((e: Error) => void) | undefined;
    const crash = new Promise<never>((_, reject) => (crashed = reject));
    consumer.on(consumer.events.CRASH, (e) => {
      // kafkajs restarts itself after retriable crashes; anything else ends this run so the supervisor restarts us.
      if (!e.payload.restart) crashed?.(e.payload.error);
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: this.options.fromBeginning ?? true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.options.concurrency ?? 3,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          const { partition } = batch;
          for (let i = 0; i < batch.messages.length; i += batchSize) {
            if (!isRunning() || isStale() || signal.aborted) return;
            const slice = batch.messages.slice(i, i + batchSize);
            const records: SourceRecord[] = slice.map((m) => ({
              topic,
              partition,
              offset: m.offset,
              key: m.key,
              value: m.value,
              headers: headersToStrings(m.headers),
              timestampMs: Number(m.timestamp),
            }));
            const last = slice.at(-1)!.offset;
            await handle({
              lane: `${topic}/${partition}`,
              records,
              commit: async () => {
                await consumer.commitOffsets([{ topic, partition, offset: (BigInt(last) + 1n).toString() }]);
                resolveOffset(last);
              },
            });
            await heartbeat();
          }
        },
      });
      await Promise.race([crash, new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))]);
    } finally {
      log.debug('kafka source stopping', { topic, groupId });
      await consumer.disconnect().catch(() => {});
    }
  }
}
