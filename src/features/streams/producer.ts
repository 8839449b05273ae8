import { CompressionTypes, Partitioners, type Kafka } from 'kafkajs';
import type { Clock } from '../../platform/clock.ts';
import { ensureTopics } from '../../platform/stream/kafka.ts';
import { generate, type GenerateOptions } from './scenarios.ts';

/** Creates the topic if it is missing: the broker's auto-creation is off, and should be. */
export async function ensureTopic(kafka: Kafka, topic: string, partitions: number): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await ensureTopics(admin, [{ topic, partitions }])).length > 0;
  } finally {
    await admin.disconnect();
  }
}

export type ProduceOptions = GenerateOptions & {
  topic: string;
  /** Send as fast as possible instead of at the nominal rate (event times still follow the nominal clock). */
  fast: boolean;
  batchSize?: number;
  signal?: AbortSignal;
  onProgress?: (sent: number) => void;
};

export type ProduceSummary = { topic: string; records: number; late: number; seconds: number; recordsPerSec: number };

/**
 * Produces a scenario's records, keyed by symbol/device/service so each key's records stay in one partition and in
 * order. Paced to the nominal clock unless `fast`.
 */
export async function produceScenario(kafka: Kafka, options: ProduceOptions, clock: Clock): Promise<ProduceSummary> {
  // Idempotent: a retried send never duplicates a record, so the produced data is exactly what generate() yields.
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1, retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 5000 } });
  await producer.connect();
  const t0 = performance.now();
  const batchSize = options.batchSize ?? 2000;
  const wallStart = clock.now();
  let sent = 0;
  let late = 0;
  try {
    let batch: { key: string; value: string }[] = [];
    const flush = async () => {
      if (!batch.length) return;
      await producer.send({ topic: options.topic, messages: batch, acks: -1, compression: CompressionTypes.None });
      sent += batch.length;
      options.onProgress?.(sent);
      batch = [];
    };
    for (const r of generate(options)) {
      if (options.signal?.aborted) break;
      if (!options.fast) {
        const due = wallStart + (r.nominalMs - options.startMs);
        if (due > clock.now()) await flush();
        while (due > clock.now() && !options.signal?.aborted) await clock.sleep(Math.min(due - clock.now(), 100), options.signal).catch(() => {});
      }
      batch.push({ key: r.key, value: JSON.stringify(r.value) });
      if (r.late) late++;
      if (batch.length >= batchSize) await flush();
    }
    await flush();
  } finally {
    await producer.disconnect();
  }
  const seconds = (performance.now() - t0) / 1000;
  return { topic: options.topic, records: sent, late, seconds: Math.round(seconds * 100) / 100, recordsPerSec: Math.round(sent / seconds) };
}
