import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import type { Clock } from '../../platform/clock.ts';
import type { Logger } from '../../platform/log.ts';
import type { SourceRecord } from '../../platform/stream/types.ts';

/**
 * A Kafka topic read in batches from positions the caller owns. Records have the stream platform's shape
 * (SourceRecord of src/platform/stream/types.ts), but this is not a platform `Source`, and the job's Postgres and
 * Redis writers are not platform `Sink`s: those are built for at-least-once delivery made exactly-once in effect
 * by ids, where a batch is committed to the consumer group once every sink applied it (`SourceBatch.commit`) and
 * each sink dedupes per envelope id. A stream job instead gets exactly-once from one Postgres transaction holding
 * the window results, the window state and the next offset of each partition together, and Kafka's committed
 * offsets are never used; a per-batch `commit()` or a per-envelope `Sink.write` has nowhere to put that
 * transaction. The job's watermark also needs what a platform batch does not carry: which partitions still have
 * unread records (`lagging`).
 *
 * Positions live with the caller's results (Postgres, in the same transaction), never in Kafka: the consumer
 * commits nothing, and on start every partition is sought to the position given. kafkajs only offers group
 * consumers, so each start joins a fresh, single-member group (a unique group id): a restarted job never waits
 * for the session of its killed predecessor to expire, and there are no committed offsets to clean up.
 * Records below a partition's position are dropped, so a fetch that raced the seek cannot deliver a record twice.
 */

export type SourceBatch = {
  topic: string;
  partition: number;
  records: SourceRecord[];
  /** Position after this batch: past its last offset, transaction markers and compacted gaps included. */
  nextOffset: number;
  highWatermark: number;
  /**
   * Partitions known to have unread records while this batch is processed (this one included) and once it is
   * done, from end offsets at most ENDS_MAX_AGE_MS old. A stream job's watermark waits for them.
   */
  lagging: number[];
  laggingAfter: number[];
};
export type PartitionLag = { partition: number; next: number; end: number; lag: number };

export type KafkaBatchSourceOptions = {
  kafka: Kafka;
  topic: string;
  /** Prefix of the throwaway consumer group ids, so the broker's group list says whose they are. */
  groupPrefix: string;
  log: Logger;
  clock: Clock;
  maxBytesPerPartition?: number;
  maxWaitTimeMs?: number;
};

export type StartOptions = {
  /** Next offset per partition, as stored with the results. */
  positions: ReadonlyMap<number, number>;
  /** Where partitions without a stored position start. */
  startFrom: 'earliest' | 'latest';
  /** Called one batch at a time, in order per partition; the next batch waits until it resolves. */
  onBatch(batch: SourceBatch): Promise<void>;
  /** The consumer failed for good (a throw from onBatch included); the caller should stop and restart. */
  onFatal(error: Error): void;
};

/** How stale the end offsets behind `lagging` may be; refreshing costs one ListOffsets round trip (~3 ms). */
const ENDS_MAX_AGE_MS = 250;

export class KafkaBatchSource {
  private admin?: Admin;
  private endsAt = -Infinity;
  private consumer?: Consumer;
  private next = new Map<number, number>();
  private ends = new Map<number, number>();
  private stopping = false;

  constructor(private options: KafkaBatchSourceOptions) {}

  private async getAdmin() {
    if (!this.admin) {
      const admin = this.options.kafka.admin({ retry: { retries: 2 } });
      await admin.connect();
      this.admin = admin;
    }
    return this.admin;
  }

  /** listTopics answers at once; asking for a missing topic's offsets would retry for many seconds first. */
  async topicExists(): Promise<boolean> {
    return (await (await this.getAdmin()).listTopics()).includes(this.options.topic);
  }

  /**
   * Starts consuming. Resolves with the position each partition starts from (stored, or the start/end of the
   * partition for a new one), which the caller should store with its next commit.
   */
  async start(options: StartOptions): Promise<Map<number, number>> {
    const { topic, kafka, log } = this.options;
    const offsets = await (await this.getAdmin()).fetchTopicOffsets(topic);
    this.endsAt = this.options.clock.now();
    for (const o of offsets) {
      const low = Number(o.low);
      const high = Number(o.high);
      const stored = options.positions.get(o.partition);
      let at = stored ?? (options.startFrom === 'earliest' ? low : high);
      if (at < low) {
        log.warn('stored position is older than the partition start: records were deleted by retention before they were read', { partition: o.partition, stored: at, low });
        at = low;
      }
      this.next.set(o.partition, at);
      this.ends.set(o.partition, high);
    }

    const consumer = kafka.consumer({
      groupId: `${this.options.groupPrefix}.${randomUUID()}`,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: this.options.maxBytesPerPartition ?? 4 * 1024 * 1024,
      maxWaitTimeInMs: this.options.maxWaitTimeMs ?? 250,
      retry: { retries: 5 },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!this.stopping && !payload.restart) options.onFatal(payload.error);
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch, heartbeat, isRunning, isStale }) => {
        if (!isRunning() || isStale() || this.stopping) return;
        const partition = batch.partition;
        const from = this.next.get(partition) ?? 0;
        const records: SourceRecord[] = [];
        for (const m of batch.messages) {
          if (Number(m.offset) < from) continue;
          records.push({
            topic,
            partition,
            offset: m.offset,
            key: m.key,
            value: m.value,
            // Stream jobs read only the value: headers are not decoded, to keep the per-record cost down.
            headers: {},
            timestampMs: Number(m.timestamp),
          });
        }
        const highWatermark = Number(batch.highWatermark);
        const nextOffset = Number(batch.lastOffset()) + 1;
        this.ends.set(partition, highWatermark);
        if (nextOffset <= from) return;
        if (this.options.clock.now() - this.endsAt >= ENDS_MAX_AGE_MS) await this.refreshEnds().catch(() => {});
        const behind = (at: number) => [...this.next].filter(([p, n]) => (p === partition ? at : n) < (this.ends.get(p) ?? 0)).map(([p]) => p);
        try {
          await options.onBatch({ topic, partition, records, nextOffset, highWatermark, lagging: behind(from), laggingAfter: behind(nextOffset) });
        } catch (error) {
          // The caller's state may be ahead of what it stored: only a restart from its stored positions is safe,
          // so nothing more is delivered (a redelivery of this batch would be counted twice in memory).
          this.stopping = true;
          options.onFatal(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        this.next.set(partition, nextOffset);
        await heartbeat();
      },
    });
    for (const [partition, offset] of this.next) consumer.seek({ topic, partition, offset: String(offset) });
    return new Map(this.next);
  }

  private async refreshEnds() {
    const offsets = await (await this.getAdmin()).fetchTopicOffsets(this.options.topic);
    this.endsAt = this.options.clock.now();
    for (const o of offsets) this.ends.set(o.partition, Math.max(Number(o.high), this.ends.get(o.partition) ?? 0));
  }

  /** Next offset, end offset and lag of each partition (end offsets refreshed from the broker when asked). */
  async lag(refresh = false): Promise<PartitionLag[]> {
    if (refresh) await this.refreshEnds();
    return [...this.next].sort(([a], [b]) => a - b).map(([partition, next]) => {
      const end = Math.max(this.ends.get(partition) ?? next, next);
      return { partition, next, end, lag: end - next };
    });
  }

  async stop() {
    this.stopping = true;
    await this.consumer?.stop().catch(() => {});
    await this.consumer?.disconnect().catch(() => {});
    await this.admin?.disconnect().catch(() => {});
    this.consumer = undefined;
    this.admin = undefined;
  }
}
