import { join } from 'node:path';
import { systemClock, type Clock } from '../../platform/clock.ts';
import { ROOT } from '../../platform/context.ts';
import type { Logger } from '../../platform/log.ts';
import type { Sql } from '../../platform/stores/postgres.ts';
import { openKafka } from '../../platform/stores/kafka.ts';
import { openPostgres } from '../../platform/stores/postgres.ts';
import { openRedis } from '../../platform/stores/redis.ts';
import { FanOut } from '../../platform/stream/fanout.ts';
import { idempotentProducer, KafkaSource, waitForTopics } from '../../platform/stream/kafka.ts';
import type { TelemetryBuffer } from '../../platform/workers/telemetry.ts';
import { createTracing } from '../../platform/tracing.ts';
import { ContentCatalogue, contentLookup, followContent } from './catalogue.ts';
import { runCdcRelay, prepareReplication, type CdcStatus } from './cdc.ts';
import type { EngagementEvent } from './model.ts';
import type { PipelineOptions } from './options.ts';
import { runProcessor, type BatchReport } from './processor.ts';
import { openPublisher } from './publisher.ts';
import { engagementDeadLetters } from './dead-letters.ts';
import { openSinks } from './sinks.ts';
import { serveWarehouse, type WarehouseCall, type WarehouseReply } from './warehouse/rpc.ts';
import { ensurePipelineTopics } from './topics.ts';

/**
 * The two long-running jobs, each building its own connections from plain options. They run inside Bun
 * workers under the server, or directly in a process (`bun run pipeline -- stream`).
 */
type RunDeps = { log: Logger; telemetry: TelemetryBuffer; setState(state: Record<string, unknown>): void; clock?: Clock };

export async function runCdc(o: PipelineOptions, deps: RunDeps, signal: AbortSignal) {
  const clock = deps.clock ?? systemClock;
  const log = deps.log.child({ component: 'engagement-cdc' });
  const pg = openPostgres({ url: o.databaseUrl, schema: o.names.schema, migrationsDir: join(ROOT, 'db/postgres'), max: 2 });
  const kafka = openKafka({ brokers: o.brokers, clientId: 'sillage-cdc', log });
  try {
    await pg.migrate();
    await ensurePipelineTopics(await kafka.admin(), o.names, o.partitions);
    const created = await prepareReplication(pg.sql, o.names);
    await waitForSlot(pg.sql, o.names.slot, { log, clock, signal, setState: deps.setState });
    if (signal.aborted) return;
    log.info('replication ready', { slot: o.names.slot, publication: o.names.publication, created });
    const publisher = await openPublisher(kafka.kafka, { transactionalId: o.exactlyOnce ? `sillage-cdc-${o.names.slot}` : undefined });
    try {
      await runCdcRelay(
        {
          databaseUrl: o.databaseUrl,
          names: o.names,
          publisher,
          log,
          clock,
          heartbeatMs: o.heartbeatMs,
          onProduced: ({ ms, byTopic }) => {
            for (const [topic, n] of Object.entries(byTopic)) deps.telemetry.inc('sillage_engagement_cdc_records_total', { topic }, n);
            deps.telemetry.observe('sillage_engagement_cdc_produce_seconds', {}, ms / 1000);
          },
          onStatus: (s: CdcStatus) => deps.setState({ cdc: s }),
        },
        signal,
      );
    } finally {
      await publisher.close().catch(() => {});
    }
  } finally {
    await kafka.close();
    await pg.close();
  }
}

/**
 * A slot streams to one reader at a time. When another instance holds it, this one stands by and takes over
 * when the slot is released (the other instance stopped or died), instead of crashing in a loop.
 */
async function waitForSlot(sql: Sql, slot: string, o: { log: Logger; clock: Clock; signal: AbortSignal; setState(s: Record<string, unknown>): void }) {
  let announced = false;
  while (!o.signal.aborted) {
    const [row] = await sql<{ active_pid: number | null }[]>`SELECT active_pid FROM pg_replication_slots WHERE slot_name = ${slot}`;
    if (!row?.active_pid) break;
    if (!announced) {
      o.log.info('the replication slot is streamed by another process; standing by', { slot, pid: row.active_pid });
      o.setState({ standby: true });
      announced = true;
    }
    await o.clock.sleep(2000, o.signal).catch(() => {});
  }
  if (announced) o.setState({ standby: false });
}

export type ProcessorDeps = RunDeps & {
  onBatch?: (r: BatchReport) => void;
  /** Inside the server's worker: the API's calls on a DuckDB warehouse this job owns come through here. */
  emit?: (reply: WarehouseReply) => void;
  onCommand?: (handler: (call: WarehouseCall) => void | Promise<void>) => void;
};

export async function runStreamProcessor(o: PipelineOptions, deps: ProcessorDeps, signal: AbortSignal) {
  const clock = deps.clock ?? systemClock;
  const log = deps.log.child({ component: 'engagement-processor' });
  const pg = openPostgres({ url: o.databaseUrl, schema: o.names.schema, migrationsDir: join(ROOT, 'db/postgres'), max: 2 });
  const redis = openRedis({ url: o.redisUrl, prefix: o.redisPrefix });
  const kafka = openKafka({ brokers: o.brokers, clientId: 'sillage-processor', log });
  const producer = idempotentProducer(kafka.kafka);
  const follow = new AbortController();
  const stopFollow = () => follow.abort();
  signal.addEventListener('abort', stopFollow, { once: true });
  const tracing = await createTracing(o.tracing);
  const closers: (() => Promise<unknown>)[] = [];
  try {
    // The dead-letter index lives next to the source tables (a processor may start before any CDC relay did).
    await pg.migrate();
    // The CDC relay creates the topics; wait for it a little so two processes do not race to create them.
    const admin = await kafka.admin();
    await waitForTopics(admin, [o.names.eventsTopic, o.names.contentTopic, o.names.dlqTopic], { timeoutMs: 10_000, signal });
    await ensurePipelineTopics(admin, o.names, o.partitions);
    await producer.connect();
    const catalogue = new ContentCatalogue({ lookup: contentLookup(pg.sql), log });
    const feed = await followContent({ kafka: kafka.kafka, topic: o.names.contentTopic, groupId: `${o.names.group}.content.${crypto.randomUUID()}`, catalogue, log, signal: follow.signal });
    // Start once the catalogue has caught up, or after 10 s anyway: misses fall back to the database.
    await Promise.race([feed.ready, clock.sleep(10_000, signal)]);
    log.info('content catalogue loaded', { contents: catalogue.size });
    const sinks = await openSinks(o, {
      redis: redis.redis,
      clock,
      onLate: (n) => deps.telemetry.inc('sillage_engagement_late_events_total', {}, n),
      onRebuild: (r) => {
        if (r.phase === 'start') log.info('Redis has no live state (first start, or Redis restarted without persistence); building the live window from the warehouse');
        else {
          log.info('live window rebuilt from the warehouse', { events: r.events, ms: r.ms });
          deps.telemetry.inc('sillage_engagement_redis_rebuilds_total');
        }
        deps.setState({ redisRebuild: r.phase === 'start' ? { startedAt: new Date(clock.now()).toISOString() } : null });
      },
      onBreakerChange: (state) => {
        log.warn('REST sink circuit breaker', { state });
        deps.telemetry.set('sillage_engagement_rest_breaker_open', {}, state === 'open' ? 1 : 0);
        deps.setState({ restBreaker: state });
      },
    });
    closers.push(() => sinks.close());
    await sinks.warehouse.prepare();
    if (deps.emit && deps.onCommand) deps.onCommand(serveWarehouse(sinks.warehouse, deps.emit));
    const fanOut = new FanOut<EngagementEvent>({
      sinks: sinks.entries,
      clock,
      log,
      onRetry: (r) =>
        deps.setState({ retrying: 'recovered' in r ? null : { sink: r.sink, attempt: r.attempt, envelopes: r.envelopes, error: r.error.message, at: new Date(clock.now()).toISOString() } }),
    });
    // Partitions are the unit of parallelism: their batches overlap their waits on Redis and on offset commits.
    const source = new KafkaSource({ kafka: kafka.kafka, topic: o.names.eventsTopic, groupId: o.names.group, batchSize: o.batchSize, maxWaitMs: o.intervalMs, log, concurrency: Math.min(o.partitions, 6) });
    let batches = 0;
    let events = 0;
    await runProcessor(
      {
        source,
        catalogue,
        fanOut,
        deadLetters: engagementDeadLetters({ producer, topic: o.names.dlqTopic, sql: pg.sql }),
        clock,
        log,
        tracing,
        onBatch: (r) => {
          batches++;
          events += r.envelopes;
          const t = deps.telemetry;
          t.inc('sillage_engagement_processor_records_total', {}, r.records);
          for (const [name, s] of Object.entries(r.perSink)) {
            t.inc('sillage_engagement_sink_events_total', { sink: name, outcome: 'applied' }, s.applied);
            t.inc('sillage_engagement_sink_events_total', { sink: name, outcome: 'duplicate' }, s.duplicates);
            t.inc('sillage_engagement_sink_events_total', { sink: name, outcome: 'dead_letter' }, s.deadLettered);
            t.observe('sillage_engagement_sink_seconds', { sink: name }, s.ms / 1000);
          }
          for (const [reason, n] of Object.entries(r.rejectedBy)) t.inc('sillage_engagement_dlq_total', { reason }, n);
          for (const d of r.deadLetters) t.inc('sillage_engagement_dlq_total', { reason: d.reason });
          t.observe('sillage_engagement_batch_seconds', {}, r.ms / 1000);
          for (const ms of r.endToEndMs) t.observe('sillage_engagement_end_to_end_seconds', {}, ms / 1000);
          for (const ms of r.toRedisMs) t.observe('sillage_engagement_redis_end_to_end_seconds', {}, ms / 1000);
          deps.setState({ lastCommitAt: new Date(clock.now()).toISOString(), batches, events });
          deps.onBatch?.(r);
        },
      },
      signal,
    );
    await feed.stopped;
  } finally {
    signal.removeEventListener('abort', stopFollow);
    follow.abort();
    for (const close of closers) await close().catch(() => {});
    await tracing.shutdown().catch(() => {});
    await producer.disconnect().catch(() => {});
    await kafka.close();
    await redis.close();
    await pg.close();
  }
}
