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
 * the same key lands on the same partition whichever client produced it. It retries without limit (capped
 * backoff): giving up would break its sequence numbers, and the caller has not acknowledged anything upstream
 * yet, so waiting for the broker is the safe choice.
 */
export function idempotentProducer(kafka: Kafka, extra: Partial<ProducerConfig> = {}): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 5000 },
    ...extra,
  });
}

/** Waits until every topic exists (another process is creating them), up to `timeoutMs`; false on timeout. */
export async function waitForTopics(admin: Admin, topics: string[], options: { timeoutMs: number; signal?: AbortSignal }): Promise<boolean> {
  const deadline = Date.now() + options.timeoutMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
    const existing = new Set(await admin.listTopics());
    if (topics.every((t) => existing.has(t))) return true;
    if (Date.now() + delay > deadline || options.signal?.aborted) return false;
    await Bun.sleep(delay);
  }
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
    // A short session lets the group hand a dead instance's partitions to the others within ~10 s; a live instance
    // busy with a slow batch keeps its session through SourceBatch.keepAlive().
    const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: maxWaitMs, minBytes: 1, sessionTimeout: 10_000, heartbeatInterval: 1000 });
    this.options.onConsumer?.(consumer);
    let crashed: ((e: Error) => void) | undefined;
    const crash = new Promise<never>((_, reject) => (crashed = reject));
    consumer.on(consumer.events.CRASH, (e) => {
      // kafkajs restarts itself after retriable crashes; anything else ends this run so the supervisor restarts us.
      if (!e.payload.restart) crashed?.(e.payload.error);
    });
    // A fetch holding only transaction markers never reaches eachBatch; commit past it (everything before it
    // in the partition was committed by the handler of the previous batch).
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.batchSize !== 0 || signal.aborted) return;
      const offset = (BigInt(payload.lastOffset) + 1n).toString();
      consumer.commitOffsets([{ topic: payload.topic, partition: payload.partition, offset }]).catch(() => {});
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
            // The last slice also covers what follows its last record in the fetch (transaction markers), so
            // a committed group shows no lag for offsets that hold no data.
            const last = i + batchSize >= batch.messages.length ? batch.lastOffset() : slice.at(-1)!.offset;
            await handle({
              lane: `${topic}/${partition}`,
              records,
              commit: async () => {
                await consumer.commitOffsets([{ topic, partition, offset: (BigInt(last) + 1n).toString() }]);
                resolveOffset(last);
              },
              keepAlive: heartbeat,
            });
            await heartbeat();
          }
        },
      });
      await Promise.race([
        crash,
        new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true }))),
      ]);
    } finally {
      log.debug('kafka source stopping', { topic, groupId });
      await consumer.disconnect().catch(() => {});
    }
  }
}
