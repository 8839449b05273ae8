import { join } from 'node:path';
import type { Clock } from '../../platform/clock.ts';
import { ROOT } from '../../platform/context.ts';
import { errorMessage, isRetryable } from '../../platform/errors.ts';
import type { Logger } from '../../platform/log.ts';
import { retry } from '../../platform/retry.ts';
import { openKafka } from '../../platform/stores/kafka.ts';
import { openPostgres } from '../../platform/stores/postgres.ts';
import { openRedis } from '../../platform/stores/redis.ts';
import { aggregate, compileJob, countRejected, createState, restoreState, setLaggingPartitions, takeCheckpoint, tick, trackPartitions, type Counters, type EngineState, type StepOutput, type WindowRef, type WindowResult } from './aggregate.ts';
import { KafkaBatchSource, type PartitionLag } from './kafka-source.ts';
import { compileSchema, parseRecords, type Rejected } from './parse.ts';
import { FencedError, PostgresResultsWriter } from './postgres-writer.ts';
import { RedisLatest } from './redis-latest.ts';
import { stateFingerprint, type JobSpec } from './spec.ts';
import { StreamsRepository } from './store.ts';

/**
 * Runs one stream job: Kafka batches → parseRecords → aggregate → (every commit interval) one Postgres
 * transaction with results, window state, dead letters and offsets → Redis latest values → events for the live
 * feed. Everything runs on one serial queue, so a commit always sees a state that matches its offsets.
 *
 * Any failure that retries cannot fix ends the run with a throw; the supervisor restarts it and it resumes from
 * the last commit. That is the whole recovery story, and the one the crash tests exercise.
 */

export type JobRunOptions = {
  spec: JobSpec;
  postgres: { url: string; schema: string };
  kafka: { brokers: string[] };
  redis?: { url: string; prefix: string };
  commitIntervalMs: number;
};

export type JobPhase = 'starting' | 'waiting_for_topic' | 'running' | 'stopping';

/** What a running job reports (merged into its worker status). */
export type JobRuntimeStatus = {
  phase: JobPhase;
  epoch: number;
  watermarkMs: number | null;
  maxEventTimeMs: number | null;
  openWindows: number;
  partitions: PartitionLag[];
  counters: Counters;
  lastCommitAtMs: number | null;
  lastCommitMs: number | null;
};

export type JobEvent = { type: 'windows'; job: string; results: WindowResult[]; retracted: WindowRef[] };

export type JobIO = {
  signal: AbortSignal;
  clock: Clock;
  log: Logger;
  emit(event: JobEvent): void;
  setState(status: JobRuntimeStatus): void;
};

/** Output of several steps between two commits, with later steps winning per (key, window). */
class PendingOutput {
  results = new Map<string, WindowResult>();
  retracted = new Map<string, WindowRef>();
  rejected: Rejected[] = [];

  add(out: StepOutput) {
    for (const r of out.retracted) {
      const id = `${r.start}\u0000${r.key}`;
      this.results.delete(id);
      this.retracted.set(id, r);
    }
    for (const r of out.emitted) {
      const id = `${r.start}\u0000${r.key}`;
      this.retracted.delete(id);
      this.results.set(id, r);
    }
    for (const r of out.rejected) this.rejected.push(r);
  }

  get empty() {
    return !this.results.size && !this.retracted.size && !this.rejected.length;
  }

  take() {
    const taken = { results: [...this.results.values()], retracted: [...this.retracted.values()], rejected: this.rejected };
    this.results = new Map();
    this.retracted = new Map();
    this.rejected = [];
    return taken;
  }
}

function serialQueue() {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const p = tail.then(fn);
    tail = p.catch(() => {});
    return p;
  };
}

const finite = (x: number) => (Number.isFinite(x) ? x : null);

export async function runJob(options: JobRunOptions, io: JobIO): Promise<void> {
  const { spec, commitIntervalMs } = options;
  const { clock, signal } = io;
  const topic = spec.source.topic;
  const log = io.log.child({ component: 'streams', job: spec.name });
  const pg = openPostgres({ url: options.postgres.url, schema: options.postgres.schema, migrationsDir: join(ROOT, 'db/postgres'), max: 2 });
  const kafka = openKafka({ brokers: options.kafka.brokers, clientId: `sillage-streams-${spec.name}`, log });
  const redisStore = options.redis && spec.sinks.includes('redis') ? openRedis(options.redis) : undefined;
  const source = new KafkaBatchSource({ kafka: kafka.kafka, topic, groupPrefix: `sillage.streams.${spec.name}`, log, clock: io.clock });

  let phase: JobPhase = 'starting';
  let state: EngineState | undefined;
  let epoch = 0;
  let lastCommitAtMs: number | null = null;
  let lastCommitMs: number | null = null;
  let partitions: PartitionLag[] = [];
  const report = () => {
    if (!state) return;
    io.setState({
      phase,
      epoch,
      watermarkMs: finite(state.watermark),
      maxEventTimeMs: finite(state.maxEventTime),
      openWindows: state.open,
      partitions,
      counters: { ...state.counters },
      lastCommitAtMs,
      lastCommitMs,
    });
  };

  try {
    await pg.migrate();
    const job = compileJob(spec);
    const schema = compileSchema(spec);
    const writer = new PostgresResultsWriter(pg.sql, spec.name, { writeResults: spec.sinks.includes('postgres') });
    const claim = await writer.claim(stateFingerprint(spec));
    epoch = claim.epoch;
    if (claim.reset) log.warn('the spec changed how state is built; the old checkpoint, offsets and results were discarded and the job starts over');
    const engine = claim.meta ? restoreState(job, claim.meta, claim.rows, clock) : createState(job, clock);
    state = engine;
    log.info('job starting', { epoch, resumed: !!claim.meta, openWindows: engine.open, partitions: Object.fromEntries(claim.positions) });
    const latest = redisStore ? new RedisLatest(redisStore.redis, redisStore.prefix, spec.name) : undefined;
    // Redis is written after each commit, so a crash in between leaves it behind Postgres: catch it up first.
    if (latest && spec.sinks.includes('postgres')) await latest.rebuild(await new StreamsRepository(pg.sql).latestPerKey(spec.name));
    report();

    for (let attempt = 0; !(await source.topicExists()); attempt++) {
      if (attempt === 0) log.warn('the topic does not exist yet; waiting for it (create it, e.g. with bun run produce)', { topic });
      phase = 'waiting_for_topic';
      report();
      try {
        await clock.sleep(Math.min(500 * 2 ** attempt, 15_000), signal);
      } catch {
        return;
      }
    }

    const positions = new Map(claim.positions);
    let positionsChanged = false;
    const pending = new PendingOutput();
    let lastCommit = clock.now();
    let fail!: (e: Error) => void;
    const failed = new Promise<never>((_, reject) => (fail = reject));
    failed.catch(() => {});
    const enqueue = serialQueue();

    const hasWork = () => positionsChanged || !pending.empty || engine.dirty.size > 0 || engine.removed.size > 0;
    const commit = async () => {
      const checkpoint = takeCheckpoint(engine);
      const { results, retracted, rejected } = pending.take();
      const t0 = performance.now();
      await retry(() => writer.commit(epoch, { topic, positions, checkpoint, results, retracted, rejected, emittedAtMs: clock.now() }), {
        retries: 3,
        baseDelayMs: 250,
        clock,
        isRetryable: (e) => !(e instanceof FencedError) && isRetryable(e),
        onRetry: ({ attempt, error }) => log.warn('commit failed; retrying', { attempt, error: errorMessage(error) }),
      });
      lastCommitMs = Math.round(performance.now() - t0);
      lastCommit = clock.now();
      lastCommitAtMs = lastCommit;
      positionsChanged = false;
      if (latest) await retry(() => latest.apply(results, retracted), { retries: 3, baseDelayMs: 250, clock });
      if (results.length || retracted.length) io.emit({ type: 'windows', job: spec.name, results, retracted });
      report();
    };

    const started = await source.start({
      positions,
      startFrom: spec.source.start_from,
      onBatch: (batch) =>
        enqueue(async () => {
          const { records, rejected } = parseRecords(batch.records, schema);
          if (rejected.length) {
            countRejected(engine, rejected.length);
            pending.add({ emitted: [], retracted: [], rejected });
          }
          pending.add(setLaggingPartitions(engine, batch.lagging, clock));
          pending.add(aggregate(engine, records, clock));
          pending.add(setLaggingPartitions(engine, batch.laggingAfter, clock));
          positions.set(batch.partition, batch.nextOffset);
          positionsChanged = true;
          if (clock.now() - lastCommit >= commitIntervalMs) await commit();
        }),
      onFatal: (e) => fail(e),
    });
    trackPartitions(engine, started.keys(), clock);
    // Partitions seen for the first time are stored with the next commit, so a restart starts them at the same place.
    for (const [p, o] of started) {
      if (!positions.has(p)) {
        positions.set(p, o);
        positionsChanged = true;
      }
    }
    phase = 'running';
    partitions = await source.lag();
    report();

    const tickMs = Math.min(commitIntervalMs, 1000);
    let lastLagRefresh = clock.now();
    while (!signal.aborted) {
      await Promise.race([clock.sleep(tickMs, signal).catch(() => {}), failed]);
      if (signal.aborted) break;
      await Promise.race([
        enqueue(async () => {
          pending.add(tick(engine, clock));
          if (hasWork() && clock.now() - lastCommit >= commitIntervalMs) await commit();
        }),
        failed,
      ]);
      const refresh = clock.now() - lastLagRefresh >= 5000;
      if (refresh) lastLagRefresh = clock.now();
      partitions = await source.lag(refresh).catch(() => partitions);
      report();
    }

    phase = 'stopping';
    report();
    await source.stop();
    await enqueue(async () => {
      if (hasWork()) await commit();
    });
    log.info('job stopped', { counters: engine.counters });
  } finally {
    await source.stop();
    await Promise.allSettled([kafka.close(), redisStore?.close(), pg.close()]);
  }
}
