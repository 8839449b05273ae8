import type { SourceRecord } from './types.ts';

/** Records of one partition (or key range), in order, with the means to mark them done. */
export type SourceBatch = {
  /** e.g. `engagement-events/3`; batches of one lane are delivered one at a time, in order. */
  lane: string;
  records: SourceRecord[];
  /** Marks every record of the batch as processed (commits the Kafka offset, saves a checkpoint…). */
  commit(): Promise<void>;
  /** Tells the source the batch is still being worked on (a Kafka group heartbeat), so a slow sink does not cost the lane. */
  keepAlive?(): Promise<void>;
};

/**
 * Where records come from: a Kafka consumer group, or (for backfill) a table read in key ranges. `run` calls
 * `handle` for each batch and waits for it before giving the same lane its next batch; a rejected `handle`
 * means "not done" and the batch comes again. Resolves when the signal aborts.
 */
export interface Source {
  readonly name: string;
  run(handle: (batch: SourceBatch) => Promise<void>, signal: AbortSignal): Promise<void>;
}
