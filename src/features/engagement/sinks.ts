import type Redis from 'ioredis';
import type { Clock } from '../../platform/clock.ts';
import type { BreakerState } from '../../platform/stream/breaker.ts';
import type { SinkPolicy } from '../../platform/stream/fanout.ts';
import { HttpSink } from '../../platform/stream/http-sink.ts';
import type { Sink } from '../../platform/stream/sink.ts';
import type { EngagementEvent } from './model.ts';
import type { PipelineOptions, RestOptions, WarehouseOptions } from './options.ts';
import { RedisEngagementSink } from './redis-sink.ts';
import { PostgresWarehouse } from './warehouse/postgres.ts';
import type { Warehouse } from './warehouse/warehouse.ts';

export const REST_SINK = 'rest';

/** The warehouse the configuration names (Postgres by default; see README "Warehouse" for why). */
export async function openWarehouse(o: WarehouseOptions, deps: { flushRows: number; clock: Clock }): Promise<Warehouse> {
  if (o.kind === 'postgres') {
    if (!o.databaseUrl) throw new Error('The Postgres warehouse needs DATABASE_URL. Example: DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres');
    return new PostgresWarehouse({ url: o.databaseUrl, schema: o.schema, flushRows: deps.flushRows, flushIntervalMs: o.flushIntervalMs, clock: deps.clock });
  }
  if (o.kind === 'duckdb') {
    const { DuckDBWarehouse } = await import('./warehouse/duckdb.ts');
    return new DuckDBWarehouse({ path: o.duckdbPath, flushRows: deps.flushRows, flushIntervalMs: o.flushIntervalMs, clock: deps.clock });
  }
  if (!o.bigquery) throw new Error('WAREHOUSE=bigquery needs BIGQUERY_PROJECT_ID and BIGQUERY_DATASET_ID.');
  const { BigQueryWarehouse } = await import('./warehouse/bigquery.ts');
  return new BigQueryWarehouse({ ...o.bigquery, flushRows: deps.flushRows, flushIntervalMs: o.flushIntervalMs, clock: deps.clock });
}

/** What the external system receives for one event (plus `idempotency_key`, added by the sink). */
export function externalEvent(e: EngagementEvent): Record<string, unknown> {
  return {
    id: e.id,
    content_id: e.content_id,
    content_type: e.content_type,
    slug: e.slug,
    title: e.title,
    user_id: e.user_id,
    event_type: e.event_type,
    event_ts: e.event_ts,
    duration_ms: e.duration_ms,
    device: e.device,
    engagement_seconds: e.engagement_seconds,
    engagement_pct: e.engagement_pct,
    engagement_pct_capped: e.engagement_pct_capped,
  };
}

export function restSink(o: RestOptions, deps: { clock: Clock; onBreakerChange?: (state: BreakerState) => void }) {
  return new HttpSink<EngagementEvent>({
    name: REST_SINK,
    url: o.url,
    token: o.token,
    timeoutMs: o.timeoutMs,
    gzipAboveBytes: o.gzipAboveBytes,
    breaker: { failureThreshold: o.breakerFailures, cooldownMs: o.breakerCooldownMs },
    toJson: (e) => externalEvent(e.value),
    clock: deps.clock,
    onBreakerChange: deps.onBreakerChange,
  });
}

export type EngagementSinks = {
  redis: RedisEngagementSink;
  warehouse: Warehouse;
  rest?: HttpSink<EngagementEvent>;
  /** The fan-out list with each sink's retry policy. */
  entries: { sink: Sink<EngagementEvent>; policy: Partial<SinkPolicy> }[];
  byName: Map<string, Sink<EngagementEvent>>;
  close(): Promise<void>;
};

/**
 * How long a batch keeps retrying Redis or the warehouse before the events still failing there go to the DLQ
 * (sink `redis` / `warehouse`) and the batch is committed. Short outages (a restart, a failover) stay well inside
 * it, so nothing is dead-lettered for them; a longer one no longer holds every partition still.
 */
export const STORE_SINK_BUDGET_MS = 60_000;
/** The REST sink counts retries (EXTERNAL_SINK_RETRIES) and is bounded in time as well: a hanging endpoint costs a timeout per attempt. */
export const REST_SINK_BUDGET_MS = 60_000;

/**
 * Every output of the pipeline, as the processor, backfill and DLQ replay use them. Each has a retry budget,
 * after which what it still refuses goes to the DLQ with the reason and the pipeline moves on:
 * - Redis and the warehouse retry for STORE_SINK_BUDGET_MS. Their dead letters are replayed with
 *   `POST /dlq/replay?sink=redis|warehouse`; both apply an event id once (Redis's per-bucket id sets, the
 *   warehouse's primary key), so a replay, or an event that reached the sink meanwhile, counts once. Redis's
 *   rebuild from the warehouse goes through the same id sets.
 * - The REST sink has EXTERNAL_SINK_RETRIES retries within REST_SINK_BUDGET_MS, and a circuit breaker: an
 *   external system being down must not stall the others.
 */
export async function openSinks(
  o: Pick<PipelineOptions, 'redisPrefix' | 'windowMinutes' | 'warehouse' | 'rest' | 'batchSize'>,
  deps: {
    redis: Redis;
    clock: Clock;
    onLate?: (n: number) => void;
    onRebuild?: ConstructorParameters<typeof RedisEngagementSink>[0]['onRebuild'];
    onBreakerChange?: (state: BreakerState) => void;
  },
): Promise<EngagementSinks> {
  const warehouse = await openWarehouse(o.warehouse, { flushRows: o.batchSize, clock: deps.clock });
  const redis = new RedisEngagementSink({
    redis: deps.redis,
    prefix: o.redisPrefix,
    windowMinutes: o.windowMinutes,
    clock: deps.clock,
    onLate: deps.onLate,
    rebuildFrom: (fromMs) => warehouse.factsSince(fromMs),
    onRebuild: deps.onRebuild,
  });
  const rest = o.rest ? restSink(o.rest, { clock: deps.clock, onBreakerChange: deps.onBreakerChange }) : undefined;
  const entries: EngagementSinks['entries'] = [
    { sink: redis, policy: { retries: Infinity, baseDelayMs: 200, maxDelayMs: 5000, budgetMs: STORE_SINK_BUDGET_MS } },
    { sink: warehouse, policy: { retries: Infinity, baseDelayMs: 200, maxDelayMs: 5000, budgetMs: STORE_SINK_BUDGET_MS } },
  ];
  if (rest && o.rest) entries.push({ sink: rest, policy: { retries: o.rest.retries, baseDelayMs: 200, maxDelayMs: 5000, budgetMs: REST_SINK_BUDGET_MS } });
  return {
    redis,
    warehouse,
    rest,
    entries,
    byName: new Map(entries.map((e) => [e.sink.name, e.sink])),
    close: async () => {
      await Promise.allSettled(entries.map((e) => e.sink.close()));
    },
  };
}
