import type { Database } from 'bun:sqlite';
import type { Clock } from '../../platform/clock.ts';
import { errorMessage } from '../../platform/errors.ts';
import type { Logger } from '../../platform/log.ts';
import type { Metrics } from '../../platform/metrics.ts';
import { extractPages, type SourceOptions } from './extract.ts';
import { loadPosts } from './load.ts';
import type { Post, Preview, Run } from './model.ts';
import { RunStore } from './runs.ts';
import { transformRecords, type Rejection } from './transform.ts';

export type Progress = { runId: number; stage: 'extract' | 'load'; page?: number; extracted: number; rejected: number; posts: number };

export type EtlOptions = {
  db: Database;
  source: SourceOptions;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  /** How long a running run stays claimed without a sign of life from its process. */
  leaseMs?: number;
  /** Draw for the retry jitter (tests make it reproducible). */
  random?: () => number;
};

const PROGRESS_EVERY_MS = 1000;
const durationBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/**
 * Runs the ETL: extract pages → transform each page → store rejections → load all posts in one transaction,
 * recording the run in `etl_runs` from start to end. One run at a time (across processes, through the table).
 * A run never throws: whatever goes wrong ends as a `failed` run record with the reason.
 */
export class EtlRunner {
  readonly runs: RunStore;
  private active?: { id: number; controller: AbortController; done: Promise<Run> };
  private readonly log: Logger;
  private readonly leaseMs: number;
  private readonly m;

  constructor(private readonly o: EtlOptions) {
    this.leaseMs = o.leaseMs ?? 60_000;
    this.runs = new RunStore(o.db, { now: () => o.clock.now(), leaseMs: this.leaseMs });
    this.log = o.log.child({ component: 'etl' });
    const { metrics } = o;
    this.m = {
      runs: metrics.counter({ name: 'sillage_etl_runs_total', help: 'ETL runs by final status', labelNames: ['status'] as const }),
      records: metrics.counter({ name: 'sillage_etl_records_total', help: 'ETL records: extracted from the source, loaded into SQLite, rejected by validation', labelNames: ['stage'] as const }),
      duration: metrics.histogram({ name: 'sillage_etl_run_duration_seconds', help: 'ETL run duration by final status', labelNames: ['status'] as const, buckets: durationBuckets }),
      retries: metrics.counter({ name: 'sillage_etl_source_retries_total', help: 'Requests to the ETL source that were retried' }),
      running: metrics.gauge({ name: 'sillage_etl_running', help: '1 while this process runs an ETL run' }),
    };
    for (const status of ['succeeded', 'partial', 'failed']) this.m.runs.inc({ status }, 0);
    for (const stage of ['extracted', 'loaded', 'rejected']) this.m.records.inc({ stage }, 0);
  }

  get sourceUrl() {
    return this.o.source.url;
  }

  /** Id of the run this process is executing, if any. */
  get runningId(): number | undefined {
    return this.active?.id;
  }

  /**
   * Claims and starts a run; `run` is the fresh `running` record, `done` resolves with the final one.
   * Throws 409 `etl_running` (with `run_id`) while another run is in progress.
   */
  start(options: { onProgress?: (p: Progress) => void } = {}): { run: Run; done: Promise<Run> } {
    const run = this.runs.start(this.o.source.url);
    const controller = new AbortController();
    const done = this.execute(run, controller.signal, options.onProgress);
    this.active = { id: run.id, controller, done };
    void done.finally(() => {
      if (this.active?.id === run.id) this.active = undefined;
    });
    return { run, done };
  }

  /** Interrupts the run in progress (it ends `failed`, its posts not loaded) and waits for its record. */
  async stop(reason = 'the process is shutting down'): Promise<void> {
    const active = this.active;
    if (!active) return;
    active.controller.abort(new Error(reason));
    await active.done;
  }

  /** Extract and transform the first `n` valid records without loading anything. */
  async preview(n: number): Promise<Preview> {
    const items: Post[] = [];
    const rejected: Rejection[] = [];
    const loadedAt = new Date(this.o.clock.now()).toISOString();
    const seen = new Map<number, number>();
    let examined = 0;
    for await (const page of extractPages(this.o.source, { clock: this.o.clock, log: this.log, random: this.o.random })) {
      const out = transformRecords(page.records, { loadedAt, firstPosition: examined, seen });
      const wanted = out.posts.slice(0, n - items.length);
      items.push(...wanted);
      // Count records up to and including the last post kept, so `total` says how many it took to find them.
      const lastKept = wanted.length ? seen.get(wanted.at(-1)!.id)! : -1;
      const end = items.length === n ? lastKept + 1 : examined + page.records.length;
      rejected.push(...out.rejected.filter((r) => r.position < end));
      examined = end;
      if (items.length === n) break;
    }
    return { items, total: examined, rejected };
  }

  private async execute(run: Run, signal: AbortSignal, onProgress?: (p: Progress) => void): Promise<Run> {
    const { clock, db, source } = this.o;
    const t0 = clock.now();
    const log = this.log.child({ runId: run.id });
    const posts: Post[] = [];
    const rejected: Rejection[] = [];
    let extracted = 0;
    let rejectedSaved = false;
    let lastProgressAt = t0;
    this.m.running.inc();
    log.info('run started', { source: source.url });

    // Renews the lease while a slow request is outstanding; pages renew it too.
    const beat = new AbortController();
    void (async () => {
      try {
        for (;;) {
          await clock.sleep(Math.max(1, Math.floor(this.leaseMs / 3)), beat.signal);
          this.runs.progress(run.id, extracted, rejected.length);
        }
      } catch {
        // Stopped at the end of the run.
      }
    })();

    const end = (final: Run) => {
      const seconds = (final.duration_ms ?? 0) / 1000;
      this.m.runs.inc({ status: final.status });
      this.m.duration.observe({ status: final.status }, seconds);
      this.m.records.inc({ stage: 'extracted' }, final.extracted);
      this.m.records.inc({ stage: 'loaded' }, final.loaded);
      this.m.records.inc({ stage: 'rejected' }, final.rejected);
      const fields = { status: final.status, extracted: final.extracted, loaded: final.loaded, rejected: final.rejected, durationMs: final.duration_ms };
      if (final.status === 'failed') log.error('run failed', { ...fields, error: final.error });
      else log.info('run finished', fields);
      return final;
    };

    try {
      const loadedAt = new Date(t0).toISOString();
      const seen = new Map<number, number>();
      for await (const page of extractPages(source, { clock, log, signal, random: this.o.random, onRetry: () => this.m.retries.inc() })) {
        const out = transformRecords(page.records, { loadedAt, firstPosition: extracted, seen });
        extracted += page.records.length;
        for (const p of out.posts) posts.push(p);
        for (const r of out.rejected) rejected.push(r);
        // Each write is a durable commit (an fsync): once a second is enough for the live status and the lease.
        if (clock.now() - lastProgressAt >= PROGRESS_EVERY_MS) {
          this.runs.progress(run.id, extracted, rejected.length);
          lastProgressAt = clock.now();
        }
        onProgress?.({ runId: run.id, stage: 'extract', page: page.page, extracted, rejected: rejected.length, posts: posts.length });
      }
      signal.throwIfAborted();
      this.runs.saveRejected(run.id, rejected);
      rejectedSaved = true;
      if (extracted > 0 && posts.length === 0)
        throw new Error(`all ${extracted} records were rejected (first: ${rejected[0]!.reason}); see GET /etl/runs/${run.id}. The source's records may have changed shape.`);
      onProgress?.({ runId: run.id, stage: 'load', extracted, rejected: rejected.length, posts: posts.length });
      const note = rejected.length ? `${rejected.length} of ${extracted} records rejected (first: ${rejected[0]!.reason}); see GET /etl/runs/${run.id}` : null;
      const final = loadPosts(db, posts, () =>
        this.runs.finish(run.id, { status: rejected.length ? 'partial' : 'succeeded', extracted, loaded: posts.length, rejected: rejected.length, error: note, durationMs: clock.now() - t0 }),
      );
      return end(final);
    } catch (error) {
      const message = signal.aborted ? `interrupted: ${errorMessage(signal.reason)}` : errorMessage(error);
      try {
        if (!rejectedSaved) this.runs.saveRejected(run.id, rejected);
        return end(this.runs.finish(run.id, { status: 'failed', extracted, loaded: 0, rejected: rejected.length, error: message, durationMs: clock.now() - t0 }));
      } catch (recordError) {
        // The database itself is failing: the run cannot be recorded, so at least say so in the log.
        log.error('could not record the failed run', { error: message, recordError });
        return { ...run, status: 'failed', finished_at: new Date(clock.now()).toISOString(), extracted, loaded: 0, rejected: rejected.length, error: message, duration_ms: clock.now() - t0 };
      }
    } finally {
      beat.abort();
      this.m.running.dec();
    }
  }
}
