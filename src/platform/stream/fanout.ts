import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { backoffDelay } from '../retry.ts';
import type { DeadLetter } from './dlq.ts';
import { asSinkError, checkResult, type Sink } from './sink.ts';
import type { Envelope } from './types.ts';

export type SinkPolicy = {
  /**
   * Transient failures retried before the envelopes are dead-lettered. `Infinity` = the sink is essential:
   * the batch waits for it (and is not committed) until it comes back or the pipeline stops.
   */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
};

export type SinkOutcome = { applied: number; duplicates: number; deadLettered: number; attempts: number; ms: number };

export type Delivery = {
  perSink: Record<string, SinkOutcome>;
  /** Envelopes some sink gave up on; publish them before committing the batch. */
  deadLetters: DeadLetter[];
  /** Envelopes whose id already appeared earlier in the same batch (given to sinks once). */
  repeatedInBatch: number;
};

const defaultPolicy: SinkPolicy = { retries: 5, baseDelayMs: 200, maxDelayMs: 10_000 };

/**
 * Hands each batch to every sink in parallel and settles it: an envelope is settled for a sink when the sink
 * applied it, reported it as a duplicate, or gave up on it (terminal error, or transient past the retry budget:
 * a dead letter). `deliver` resolves only when every sink has settled every envelope, which is the condition
 * for committing the batch's offsets.
 */
export class FanOut<T> {
  private readonly entries: { sink: Sink<T>; policy: SinkPolicy }[];

  constructor(
    private options: {
      sinks: { sink: Sink<T>; policy?: Partial<SinkPolicy> }[];
      clock: Clock;
      log: Logger;
      random?: () => number;
      /** Told before each retry wait (for status pages), and with `recovered` once a retried sink settled. */
      onRetry?: (info: { sink: string; attempt: number; envelopes: number; delayMs: number; error: AppError } | { sink: string; recovered: true }) => void;
    },
  ) {
    if (!options.sinks.length) throw new Error('FanOut needs at least one sink');
    const names = options.sinks.map((s) => s.sink.name);
    if (new Set(names).size !== names.length) throw new Error(`Sink names must be unique (got ${names.join(', ')})`);
    this.entries = options.sinks.map(({ sink, policy }) => ({ sink, policy: { ...defaultPolicy, ...policy } }));
  }

  get sinks(): Sink<T>[] {
    return this.entries.map((e) => e.sink);
  }

  async deliver(batch: Envelope<T>[], signal?: AbortSignal): Promise<Delivery> {
    const unique = new Map<string, Envelope<T>>();
    for (const e of batch) if (!unique.has(e.id)) unique.set(e.id, e);
    const envelopes = [...unique.values()];
    const results = await Promise.all(this.entries.map((entry) => this.deliverTo(entry, envelopes, signal)));
    const perSink: Record<string, SinkOutcome> = {};
    const deadLetters: DeadLetter[] = [];
    this.entries.forEach((e, i) => {
      perSink[e.sink.name] = results[i]!.outcome;
      deadLetters.push(...results[i]!.deadLetters);
    });
    return { perSink, deadLetters, repeatedInBatch: batch.length - envelopes.length };
  }

  close(): Promise<unknown> {
    return Promise.allSettled(this.entries.map((e) => e.sink.close()));
  }

  private async deliverTo({ sink, policy }: { sink: Sink<T>; policy: SinkPolicy }, batch: Envelope<T>[], signal?: AbortSignal) {
    const { clock, log } = this.options;
    const started = clock.now();
    const outcome: SinkOutcome = { applied: 0, duplicates: 0, deadLettered: 0, attempts: 0, ms: 0 };
    const deadLetters: DeadLetter[] = [];
    const firstFailure = new Map<string, number>();
    const bury = (e: Envelope<T>, error: AppError) => {
      const now = clock.now();
      outcome.deadLettered++;
      deadLetters.push({
        record: e.record,
        id: e.id,
        reason: error.code,
        error: error.message,
        sink: sink.name,
        attempts: outcome.attempts,
        firstFailureMs: firstFailure.get(e.id) ?? now,
        lastFailureMs: now,
      });
    };

    let pending = batch;
    while (pending.length) {
      if (signal?.aborted) throw signal.reason;
      outcome.attempts++;
      const byId = new Map(pending.map((e) => [e.id, e]));
      let transient: { envelope: Envelope<T>; error: AppError }[] = [];
      try {
        const result = await sink.write(pending);
        checkResult(sink.name, pending, result);
        outcome.applied += result.applied.length;
        outcome.duplicates += result.duplicates.length;
        for (const f of result.failed) {
          const envelope = byId.get(f.id)!;
          if (!firstFailure.has(f.id)) firstFailure.set(f.id, clock.now());
          if (f.error.retryable) transient.push({ envelope, error: f.error });
          else bury(envelope, f.error);
        }
      } catch (thrown) {
        const error = asSinkError(sink.name, thrown);
        for (const e of pending) if (!firstFailure.has(e.id)) firstFailure.set(e.id, clock.now());
        if (!error.retryable) {
          for (const e of pending) bury(e, error);
          transient = [];
        } else transient = pending.map((envelope) => ({ envelope, error }));
      }
      pending = transient.map((t) => t.envelope);
      if (!pending.length) break;
      const retriesSoFar = outcome.attempts - 1;
      if (retriesSoFar >= policy.retries) {
        for (const t of transient) bury(t.envelope, t.error);
        break;
      }
      const delayMs = Math.max(policy.baseDelayMs / 2, backoffDelay(retriesSoFar, policy.baseDelayMs, policy.maxDelayMs, this.options.random));
      log.warn('sink failed; retrying', { sink: sink.name, envelopes: pending.length, attempt: outcome.attempts, delayMs, error: transient[0]!.error.message });
      this.options.onRetry?.({ sink: sink.name, attempt: outcome.attempts, envelopes: pending.length, delayMs, error: transient[0]!.error });
      await clock.sleep(delayMs, signal);
    }
    if (outcome.attempts > 1) this.options.onRetry?.({ sink: sink.name, recovered: true });
    outcome.ms = clock.now() - started;
    return { outcome, deadLetters };
  }
}
