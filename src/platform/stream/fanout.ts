import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { backoffDelay } from '../retry.ts';
import type { DeadLetter } from './dlq.ts';
import { asSinkError, checkResult, type Sink } from './sink.ts';
import type { Envelope } from './types.ts';

export type SinkPolicy = {
  /** Transient failures retried before the envelopes still failing are dead-lettered. */
  retries: number;
  baseDelayMs: number;
  /** Longest wait between two attempts, a server's Retry-After included. */
  maxDelayMs: number;
  /**
   * Longest time, from the first attempt, a batch keeps retrying this sink before what still fails is
   * dead-lettered; whichever of `retries` and `budgetMs` runs out first ends the retries. With both infinite
   * the batch waits for the sink (uncommitted) until it comes back or the pipeline stops.
   */
  budgetMs: number;
};

export type SinkOutcome = {
  applied: number;
  duplicates: number;
  deadLettered: number;
  attempts: number;
  ms: number;
  /** Clock time when this sink settled its last envelope of the batch. */
  settledAtMs: number;
};

export type Delivery = {
  perSink: Record<string, SinkOutcome>;
  /** Envelopes some sink gave up on; publish them before committing the batch. */
  deadLetters: DeadLetter[];
  /** Envelopes whose id already appeared earlier in the same batch (given to sinks once). */
  repeatedInBatch: number;
};

type Settled<T> = { outcome: SinkOutcome; deadLetters: DeadLetter[]; acked: Envelope<T>[] };

const defaultPolicy: SinkPolicy = { retries: 5, baseDelayMs: 200, maxDelayMs: 10_000, budgetMs: Infinity };

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
    await Promise.all(this.entries.map((entry, i) => this.recheck(entry, results[i]!, signal)));
    const perSink: Record<string, SinkOutcome> = {};
    const deadLetters: DeadLetter[] = [];
    this.entries.forEach((e, i) => {
      perSink[e.sink.name] = results[i]!.outcome;
      deadLetters.push(...results[i]!.deadLetters);
    });
    return { perSink, deadLetters, repeatedInBatch: batch.length - envelopes.length };
  }

  /**
   * Once every sink has settled, a sink that can lose acknowledged writes (see Sink.recheck) is asked whether
   * it still holds them; what it lost is written again, so the batch is committed only with its effects in place.
   */
  private async recheck(entry: { sink: Sink<T>; policy: SinkPolicy }, settled: Settled<T>, signal?: AbortSignal) {
    if (!entry.sink.recheck) return;
    for (let round = 0; settled.acked.length; round++) {
      const lost = new Set(await entry.sink.recheck(settled.acked));
      if (!lost.size) return;
      if (round >= 10) throw new AppError('sink_unstable', `Sink ${entry.sink.name} keeps losing acknowledged writes; the batch will be redelivered.`, { retryable: true, status: 503 });
      this.options.log.warn('sink lost acknowledged writes; writing them again', { sink: entry.sink.name, events: lost.size });
      const again = await this.deliverTo(entry, settled.acked.filter((e) => lost.has(e.id)), signal);
      settled.outcome.applied += again.outcome.applied;
      settled.outcome.duplicates += again.outcome.duplicates;
      settled.outcome.deadLettered += again.outcome.deadLettered;
      settled.outcome.attempts += again.outcome.attempts;
      settled.outcome.settledAtMs = again.outcome.settledAtMs;
      settled.deadLetters.push(...again.deadLetters);
      settled.acked = again.acked;
    }
  }

  close(): Promise<unknown> {
    return Promise.allSettled(this.entries.map((e) => e.sink.close()));
  }

  private async deliverTo({ sink, policy }: { sink: Sink<T>; policy: SinkPolicy }, batch: Envelope<T>[], signal?: AbortSignal): Promise<Settled<T>> {
    const { clock, log } = this.options;
    const started = clock.now();
    const outcome: SinkOutcome = { applied: 0, duplicates: 0, deadLettered: 0, attempts: 0, ms: 0, settledAtMs: started };
    const deadLetters: DeadLetter[] = [];
    const acked: Envelope<T>[] = [];
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
        for (const id of [...result.applied, ...result.duplicates]) acked.push(byId.get(id)!);
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
      const remainingMs = policy.budgetMs - (clock.now() - started);
      if (retriesSoFar >= policy.retries || remainingMs <= 0) {
        for (const t of transient) bury(t.envelope, t.error);
        break;
      }
      // A server's Retry-After wins over a shorter backoff, but never holds the batch longer than the policy's
      // longest delay (a `Retry-After: 3600` would otherwise stall every sink for an hour) nor past the budget.
      const hintedMs = Math.min(policy.maxDelayMs, Math.max(0, ...transient.map((t) => t.error.retryAfterMs ?? 0)));
      const backoffMs = Math.max(policy.baseDelayMs / 2, backoffDelay(retriesSoFar, policy.baseDelayMs, policy.maxDelayMs, this.options.random));
      const delayMs = Math.min(remainingMs, Math.max(hintedMs, backoffMs));
      log.warn('sink failed; retrying', { sink: sink.name, envelopes: pending.length, attempt: outcome.attempts, delayMs, error: transient[0]!.error.message });
      this.options.onRetry?.({ sink: sink.name, attempt: outcome.attempts, envelopes: pending.length, delayMs, error: transient[0]!.error });
      await clock.sleep(delayMs, signal);
    }
    if (outcome.attempts > 1) this.options.onRetry?.({ sink: sink.name, recovered: true });
    outcome.settledAtMs = clock.now();
    outcome.ms = outcome.settledAtMs - started;
    return { outcome, deadLetters, acked };
  }
}
