import { basename } from 'node:path';
import type { AppContext } from '../../platform/context.ts';
import { AppError, conflict, errorMessage, notFound } from '../../platform/errors.ts';
import type { WorkerHandle } from '../../platform/workers/supervisor.ts';
import type { WindowRef, WindowResult } from './aggregate.ts';
import type { JobWorkerOptions } from './job.worker.ts';
import { toResultDto, type JobDetail, type JobStatus, type WindowResultDto } from './model.ts';
import { RedisLatest } from './redis-latest.ts';
import type { JobEvent, JobRuntimeStatus } from './runner.ts';
import { loadSpecFiles, validateSpec, type JobSpec } from './spec.ts';
import { StreamsRepository, type CheckpointRow, type JobRow, type ResultsQuery } from './store.ts';

/** What the live feed sends per emitted or retracted window. */
export type LiveEvent = { type: 'window'; result: WindowResultDto } | { type: 'retracted'; key: string; window_start: string };

type Totals = { records_in: number; filtered: number; late: number; dlq: number; windows_emitted: number };

/**
 * The stream jobs of this process: definitions from STREAMS_DIR and the API (kept in Postgres), one supervised
 * worker per job, statuses, results, and the live feed fan-out.
 */
export class StreamJobs {
  private readonly repo: StreamsRepository;
  private readonly log;
  private handles = new Map<string, WorkerHandle<never>>();
  private listeners = new Map<string, Set<(e: LiveEvent) => void>>();
  private closed = false;

  constructor(
    private ctx: AppContext,
    private options: { dir: string; runWorkers: boolean },
  ) {
    this.repo = new StreamsRepository(ctx.stores.postgres!.sql);
    this.log = ctx.log.child({ component: 'streams' });
    this.registerMetrics();
  }

  /** Applies migrations, loads the spec files and starts a worker for every job. */
  async start() {
    await this.ctx.stores.postgres!.migrate();
    for (const f of loadSpecFiles(this.options.dir)) {
      if (!f.spec) {
        this.log.error('stream job file ignored', { file: f.file, error: f.error?.message });
        continue;
      }
      if (!(await this.repo.upsertFileJob(f.spec, basename(f.file)))) this.log.warn('a job created over the API already has this name; the file is ignored', { file: f.file, job: f.spec.name });
    }
    for (const job of await this.repo.listJobs()) {
      try {
        this.spawn(validateSpec(job.spec));
      } catch (e) {
        this.log.error('stored stream job is no longer valid; not started', { job: job.name, error: errorMessage(e) });
      }
    }
  }

  private spawn(spec: JobSpec) {
    if (!this.options.runWorkers || this.closed) return;
    const c = this.ctx.config;
    const options: JobWorkerOptions = {
      spec,
      postgres: { url: c.DATABASE_URL!, schema: c.DATABASE_SCHEMA },
      kafka: { brokers: c.KAFKA_BOOTSTRAP_SERVERS! },
      redis: { url: c.REDIS_URL!, prefix: c.REDIS_KEY_PREFIX },
      commitIntervalMs: c.STREAMS_COMMIT_INTERVAL_MS,
      log: { level: c.LOG_LEVEL, format: c.LOG_FORMAT },
    };
    const handle = this.ctx.workers.spawn<JobWorkerOptions, never, JobEvent>({
      name: `streams:${spec.name}`,
      url: new URL('./job.worker.ts', import.meta.url),
      options,
      onEvent: (e) => this.publish(e.job, e.results, e.retracted),
    });
    this.handles.set(spec.name, handle);
  }

  private publish(job: string, results: WindowResult[], retracted: WindowRef[]) {
    const set = this.listeners.get(job);
    if (!set?.size) return;
    const events: LiveEvent[] = [
      ...retracted.map((r): LiveEvent => ({ type: 'retracted', key: r.key, window_start: new Date(r.start).toISOString() })),
      ...results.map((r): LiveEvent => ({ type: 'window', result: toResultDto(r) })),
    ];
    for (const listen of set) for (const e of events) listen(e);
  }

  /** Live feed of a job's emitted windows; returns the unsubscribe function. */
  subscribe(job: string, listen: (e: LiveEvent) => void): () => void {
    let set = this.listeners.get(job);
    if (!set) this.listeners.set(job, (set = new Set()));
    set.add(listen);
    return () => set.delete(listen);
  }

  async create(input: unknown): Promise<JobDetail> {
    const spec = validateSpec(input);
    if (!(await this.repo.insertJob(spec, 'api')))
      throw conflict('job_exists', `A stream job named "${spec.name}" already exists. Pick another name, or DELETE /api/v1/streams/jobs/${spec.name} first.`, { job: spec.name });
    this.spawn(spec);
    return this.get(spec.name);
  }

  /** Stops the job's worker (it commits what it has) and forgets the job; results and dead letters stay. */
  async remove(name: string): Promise<{ deleted: string; results_kept: boolean }> {
    const job = await this.repo.getJob(name);
    if (!job) throw notFound('Stream job', name);
    if (job.origin === 'file')
      throw new AppError('job_defined_in_file', `Stream job "${name}" is defined by ${job.file} in STREAMS_DIR; remove the file and restart to delete it.`, { status: 409, retryable: false });
    await this.handles.get(name)?.stop(15_000);
    this.handles.delete(name);
    await this.repo.deleteJob(name);
    return { deleted: name, results_kept: await this.repo.hasResults(name) };
  }

  async list(): Promise<JobStatus[]> {
    const [jobs, checkpoints] = await Promise.all([this.repo.listJobs(), this.repo.checkpoints()]);
    return Promise.all(jobs.map((j) => this.status(j, checkpoints.get(j.name))));
  }

  async get(name: string): Promise<JobDetail> {
    const job = await this.repo.getJob(name);
    if (!job) throw notFound('Stream job', name);
    const checkpoint = (await this.repo.checkpoints()).get(name);
    return { ...(await this.status(job, checkpoint)), spec: job.spec as unknown as Record<string, unknown> };
  }

  async exists(name: string) {
    return !!(await this.repo.getJob(name)) || (await this.repo.hasResults(name));
  }

  /**
   * Window results from Postgres, or with `latest` the newest window per key: from Redis when the job writes
   * there, else from Postgres. A job with `sinks: [redis]` keeps no history, so its Postgres results are empty.
   */
  async results(name: string, q: ResultsQuery & { latest?: boolean }): Promise<{ source: 'postgres' | 'redis'; results: WindowResultDto[] }> {
    const job = await this.repo.getJob(name);
    if (!job && !(await this.repo.hasResults(name))) throw notFound('Stream job', name);
    // A deleted job's results stay, and so may its Redis hashes: read them as if it had both sinks.
    const sinks = job?.spec.sinks ?? ['postgres', 'redis'];
    if (!q.latest) return { source: 'postgres', results: (await this.repo.results(name, q)).map(toResultDto) };
    const newestFirst = (rows: WindowResult[]) => rows.sort((a, b) => b.start - a.start || a.key.localeCompare(b.key)).slice(0, q.limit).map(toResultDto);
    // Without the Redis sink nothing keeps a Redis copy current, so a copy built here would go stale.
    if (!sinks.includes('redis')) return { source: 'postgres', results: newestFirst((await this.repo.latestPerKey(name)).filter((r) => q.key === undefined || r.key === q.key)) };
    const latest = new RedisLatest(this.ctx.stores.redis!.redis, this.ctx.stores.redis!.prefix, name);
    // Redis is a cache of Postgres: when its hash is gone (flushed, evicted, new Redis), rebuild it from the results.
    if (sinks.includes('postgres') && !(await latest.exists())) await latest.rebuild(await this.repo.latestPerKey(name));
    return { source: 'redis', results: newestFirst(await latest.read(q.key)) };
  }

  async dlq(name: string, limit: number) {
    if (!(await this.exists(name))) throw notFound('Stream job', name);
    return this.repo.dlq(name, limit);
  }

  private async status(job: JobRow, cp: CheckpointRow | undefined): Promise<JobStatus> {
    const spec = job.spec;
    const handle = this.handles.get(job.name);
    const w = handle?.status() as (ReturnType<WorkerHandle<never>['status']> & Partial<JobRuntimeStatus>) | undefined;
    const running = w && w.phase !== undefined && w.state === 'running';
    const watermarkMs = running ? w.watermarkMs ?? null : cp?.watermark_ms != null ? Number(cp.watermark_ms) : null;
    const totals = this.totals(w, cp);
    const partitions = running
      ? (w.partitions ?? []).map((p) => ({ partition: p.partition, next_offset: p.next, end_offset: p.end, lag: p.lag }))
      : (await this.repo.offsets(job.name)).map((o) => ({ ...o, end_offset: null, lag: null }));
    const lastCommitMs = running && w.lastCommitAtMs ? w.lastCommitAtMs : cp?.committed_at ? cp.committed_at.getTime() : null;
    const state: JobStatus['state'] = !w ? 'stopped' : w.state === 'running' ? (w.phase === 'waiting_for_topic' ? 'waiting_for_topic' : w.phase === 'stopping' ? 'stopping' : w.phase ? 'running' : 'starting') : w.state;
    return {
      name: job.name,
      description: spec.description ?? null,
      origin: job.origin,
      file: job.file,
      topic: spec.source.topic,
      key: spec.key,
      window: spec.window as unknown as Record<string, string | number>,
      sinks: spec.sinks,
      state,
      watermark: watermarkMs === null ? null : new Date(watermarkMs).toISOString(),
      watermark_lag_ms: watermarkMs === null ? null : this.ctx.clock.now() - watermarkMs,
      open_windows: running ? (w.openWindows ?? null) : null,
      lag: { total: running ? partitions.reduce((n, p) => n + (p.lag ?? 0), 0) : null, partitions },
      ...totals,
      last_commit_at: lastCommitMs ? new Date(lastCommitMs).toISOString() : null,
      restarts: w?.restarts ?? 0,
      last_error: w?.lastError ?? null,
    };
  }

  private totals(w: Partial<JobRuntimeStatus> | undefined, cp: CheckpointRow | undefined): Totals {
    if (w?.counters) {
      const c = w.counters;
      return { records_in: c.recordsIn, filtered: c.filtered, late: c.late, dlq: c.dlq, windows_emitted: c.windowsEmitted };
    }
    return {
      records_in: Number(cp?.records_in ?? 0),
      filtered: Number(cp?.filtered ?? 0),
      late: Number(cp?.late ?? 0),
      dlq: Number(cp?.dlq ?? 0),
      windows_emitted: Number(cp?.windows_emitted ?? 0),
    };
  }

  /**
   * Per-job metrics, labelled `stream_job`: Prometheus attaches its own `job` label (the scrape job) to every
   * series, and a metric label of that name would be renamed `exported_job`. Workers report absolute totals (restored from the checkpoint on restart, so they never go
   * back); the counters are advanced by the difference when Prometheus scrapes. The first gauge's collect runs
   * before the other metrics are read, so everything is refreshed once per scrape.
   */
  private registerMetrics() {
    const m = this.ctx.metrics;
    const seen = new Map<string, Totals>();
    const handles = this.handles;
    const clock = this.ctx.clock;
    m.gauge({
      name: 'sillage_streams_jobs',
      help: 'Stream jobs running in this process',
      collect() {
        this.set(handles.size);
        for (const [job, h] of handles) {
          const s = h.status() as Partial<JobRuntimeStatus>;
          if (!s.counters) continue;
          const now: Totals = { records_in: s.counters.recordsIn, filtered: s.counters.filtered, late: s.counters.late, dlq: s.counters.dlq, windows_emitted: s.counters.windowsEmitted };
          const before = seen.get(job);
          for (const k of Object.keys(counters) as (keyof Totals)[]) {
            const delta = now[k] - (before?.[k] ?? 0);
            if (delta > 0) counters[k].inc({ stream_job: job }, delta);
          }
          seen.set(job, now);
          lag.set({ stream_job: job }, (s.partitions ?? []).reduce((n, p) => n + p.lag, 0));
          if (s.watermarkMs != null) watermarkLag.set({ stream_job: job }, (clock.now() - s.watermarkMs) / 1000);
          open.set({ stream_job: job }, s.openWindows ?? 0);
        }
      },
    });
    const counters = {
      records_in: m.counter({ name: 'sillage_streams_records_in_total', help: 'Records read by a stream job', labelNames: ['stream_job'] as const }),
      filtered: m.counter({ name: 'sillage_streams_records_filtered_total', help: 'Records dropped by a stream job filter', labelNames: ['stream_job'] as const }),
      late: m.counter({ name: 'sillage_streams_records_late_total', help: 'Records later than the allowed lateness', labelNames: ['stream_job'] as const }),
      dlq: m.counter({ name: 'sillage_streams_records_dlq_total', help: 'Records sent to the dead-letter table (bad, future, too late)', labelNames: ['stream_job'] as const }),
      windows_emitted: m.counter({ name: 'sillage_streams_windows_emitted_total', help: 'Window results emitted (first and late revisions)', labelNames: ['stream_job'] as const }),
    };
    const lag = m.gauge({ name: 'sillage_streams_consumer_lag_records', help: 'Records in the topic a stream job has not processed yet (processing lag)', labelNames: ['stream_job'] as const });
    const watermarkLag = m.gauge({ name: 'sillage_streams_watermark_lag_seconds', help: 'Wall clock minus a stream job watermark', labelNames: ['stream_job'] as const });
    const open = m.gauge({ name: 'sillage_streams_open_windows', help: 'Windows held in memory by a stream job', labelNames: ['stream_job'] as const });
  }

  health(): Record<string, unknown> {
    const states: Record<string, string> = {};
    for (const [name, h] of this.handles) states[name] = h.status().state;
    return { jobs: this.handles.size, states };
  }

  async close() {
    this.closed = true;
    await Promise.all([...this.handles.values()].map((h) => h.stop(15_000)));
    this.handles.clear();
    this.listeners.clear();
  }
}
