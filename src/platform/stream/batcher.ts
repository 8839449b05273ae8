import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';

type Waiting<Item, Outcome> = { items: Item[]; resolve(outcomes: Outcome[]): void; reject(error: unknown): void };

/**
 * Gathers the items of concurrent callers into one flush (group commit): when no flush is running, what waits
 * is flushed at once; while flushes run, items gather until `maxItems` wait or the oldest has waited
 * `maxWaitMs`. So an idle store sees no added latency and a busy one gets fewer, larger writes. Each caller's
 * promise settles with the outcomes of its own items (in order) once the flush holding them has finished, so
 * "resolved" still means "stored". At most `maxConcurrentFlushes` run at once (1 for a store that takes one
 * writer, such as DuckDB).
 */
export class MicroBatcher<Item, Outcome> {
  private waiting: Waiting<Item, Outcome>[] = [];
  private count = 0;
  private oldestAt = 0;
  private timer: AbortController | undefined;
  private running = new Set<Promise<void>>();

  constructor(
    private options: {
      maxItems: number;
      maxWaitMs: number;
      /** Stores the items and returns one outcome per item, in order; a throw fails every caller of the flush. */
      flush(items: Item[]): Promise<Outcome[]>;
      maxConcurrentFlushes?: number;
      clock?: Clock;
    },
  ) {
    if (!(options.maxItems >= 1)) throw new Error(`maxItems must be at least 1 (got ${options.maxItems})`);
    if (!(options.maxWaitMs >= 0)) throw new Error(`maxWaitMs must be 0 or more (got ${options.maxWaitMs})`);
    if (!((options.maxConcurrentFlushes ?? 1) >= 1)) throw new Error(`maxConcurrentFlushes must be at least 1 (got ${options.maxConcurrentFlushes})`);
  }

  /** Items waiting for a flush (not counting those being flushed). */
  get pending(): number {
    return this.count;
  }

  submit(items: Item[]): Promise<Outcome[]> {
    if (!items.length) return Promise.resolve([]);
    return new Promise<Outcome[]>((resolve, reject) => {
      if (!this.waiting.length) this.oldestAt = this.now();
      this.waiting.push({ items, resolve, reject });
      this.count += items.length;
      this.schedule();
    });
  }

  /** Flushes whatever waits, now, and resolves when nothing is left (shutdown, tests). */
  async drain(): Promise<void> {
    while (this.running.size || this.waiting.length) {
      if (this.waiting.length && this.running.size < (this.options.maxConcurrentFlushes ?? 1)) this.startFlush();
      else await Promise.race(this.running);
    }
  }

  private get clock(): Clock {
    return this.options.clock ?? systemClock;
  }

  private now() {
    return this.clock.now();
  }

  private schedule() {
    if (this.running.size >= (this.options.maxConcurrentFlushes ?? 1) || !this.waiting.length) return;
    const waitedMs = this.now() - this.oldestAt;
    if (this.running.size === 0 || this.count >= this.options.maxItems || waitedMs >= this.options.maxWaitMs) {
      this.startFlush();
      return;
    }
    if (!this.timer) {
      const timer = (this.timer = new AbortController());
      this.clock.sleep(this.options.maxWaitMs - waitedMs, timer.signal).then(
        () => {
          if (this.timer === timer) this.timer = undefined;
          this.schedule();
        },
        () => {},
      );
    }
  }

  private startFlush() {
    this.timer?.abort();
    this.timer = undefined;
    const batch = this.waiting;
    this.waiting = [];
    this.count = 0;
    const items = batch.flatMap((w) => w.items);
    const flushing: Promise<void> = (async () => {
      try {
        const outcomes = await this.options.flush(items);
        if (outcomes.length !== items.length) throw new Error(`flush returned ${outcomes.length} outcomes for ${items.length} items`);
        let at = 0;
        for (const w of batch) {
          w.resolve(outcomes.slice(at, at + w.items.length));
          at += w.items.length;
        }
      } catch (error) {
        for (const w of batch) w.reject(error);
      }
    })().finally(() => {
      this.running.delete(flushing);
      this.schedule();
    });
    this.running.add(flushing);
  }
}
