import type { DeadLetter, DeadLetterPublisher } from './dlq.ts';
import type { Delivery, FanOut } from './fanout.ts';
import type { SourceBatch } from './source.ts';
import type { Envelope } from './types.ts';

export type Settled = Delivery & { rejected: number };

/**
 * The one place a batch's offsets are committed, and only after every enabled sink has settled every envelope
 * and every dead letter (rejected at decode time or given up by a sink) is durably in the DLQ. If anything
 * throws, nothing is committed and the source redelivers the batch; the sinks' idempotence absorbs the repeat.
 */
export async function deliverThenCommit<T>(options: {
  batch: SourceBatch;
  envelopes: Envelope<T>[];
  rejected: DeadLetter[];
  fanOut: FanOut<T>;
  deadLetters: DeadLetterPublisher;
  signal?: AbortSignal;
  keepAliveMs?: number;
}): Promise<Settled> {
  const { batch, envelopes, rejected, fanOut, deadLetters, signal } = options;
  // A sink may retry for its whole budget (a minute for Redis and the warehouse); the source must not take that for a dead consumer.
  const alive = batch.keepAlive && setInterval(() => void batch.keepAlive!().catch(() => {}), options.keepAliveMs ?? 1000);
  try {
    const delivery: Delivery = envelopes.length ? await fanOut.deliver(envelopes, signal) : { perSink: {}, deadLetters: [], repeatedInBatch: 0 };
    await deadLetters.publish([...rejected, ...delivery.deadLetters]);
    await batch.commit();
    return { ...delivery, rejected: rejected.length };
  } finally {
    if (alive) clearInterval(alive);
  }
}
