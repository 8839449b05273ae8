import { Elysia } from 'elysia';
import type { AppContext } from '../../platform/context.ts';
import { applyTelemetry, declareTelemetry, type TelemetryMessage } from '../../platform/workers/telemetry.ts';
import { engagementMetrics } from './metrics.ts';
import { pipelineOptions } from './options.ts';
import { engagementNames } from './names.ts';
import { engagementRoutes } from './routes.ts';
import { EngagementAccess } from './access.ts';
import { dlqRoutes } from './dlq-routes.ts';
import { warehouseRoutes } from './warehouse-routes.ts';
import type { WarehouseCall, WarehouseReply } from './warehouse/rpc.ts';
import { consumerLag, pipelineProblem, slotStatus } from './status.ts';

export const CDC_WORKER = 'engagement-cdc';
export const PROCESSOR_WORKER = 'engagement-processor';

/**
 * The engagement pipeline: Postgres → CDC → Kafka → enrich/transform → Redis, and the monitoring API. The
 * workers run when the three services are configured and ROLE is `all` or includes `processor`; the API reads Redis
 * whenever REDIS_URL is set.
 */
export function engagement(ctx: AppContext) {
  const { config } = ctx;
  const disabledReason = !config.engagementEnabled
    ? 'set DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS and REDIS_URL to enable'
    : !ctx.runs('processor')
      ? `ROLE=${config.ROLE.join(',')} does not run the pipeline (add processor, or use all)`
      : config.ENGAGEMENT_PIPELINE === 'off'
        ? 'ENGAGEMENT_PIPELINE=off'
        : undefined;
  const access = new EngagementAccess(ctx);
  accessOf.set(ctx, access);
  if (disabledReason) ctx.health.register({ name: 'engagement', disabledReason });
  else startPipeline(ctx);
  return new Elysia({ name: 'engagement' }).use(engagementRoutes(ctx)).use(warehouseRoutes(ctx, access)).use(dlqRoutes(ctx, access));
}

const accessOf = new WeakMap<AppContext, EngagementAccess>();

/** Starts one of the two pipeline workers under the app's supervisor (also used to restart one in tests). */
export function spawnPipelineWorker(ctx: AppContext, name: typeof CDC_WORKER | typeof PROCESSOR_WORKER) {
  const options = pipelineOptions(ctx.config);
  const url = new URL(name === CDC_WORKER ? './cdc.worker.ts' : './processor.worker.ts', import.meta.url);
  const access = accessOf.get(ctx);
  const onEvent = (m: TelemetryMessage | WarehouseReply) => {
    if (m.type === 'warehouse-reply') access?.receive(m);
    else applyTelemetry(ctx.metrics, engagementMetrics, m);
  };
  const handle = ctx.workers.spawn<typeof options, WarehouseCall, TelemetryMessage | WarehouseReply>({ name, url, options, onEvent });
  if (name === PROCESSOR_WORKER) access?.attachProcessor(handle);
  return handle;
}

function startPipeline(ctx: AppContext) {
  const names = engagementNames(ctx.config);
  declareTelemetry(ctx.metrics, engagementMetrics);
  spawnPipelineWorker(ctx, CDC_WORKER);
  spawnPipelineWorker(ctx, PROCESSOR_WORKER);

  const probeSlot = () => (ctx.stores.postgres ? within(1500, 'Postgres', slotStatus(ctx.stores.postgres.sql, names.slot)) : Promise.resolve(null));
  const probeLag = () => (ctx.stores.kafka ? within(1500, 'Kafka', ctx.stores.kafka.admin().then((a) => consumerLag(a, names.group, names.eventsTopic))) : Promise.resolve(null));
  // Measured when scraped, like the health check, rather than pushed by the workers (neither worker sees both ends).
  ctx.metrics.gauge({
    name: 'sillage_engagement_cdc_slot_lag_bytes',
    help: 'WAL bytes the replication slot holds back (current WAL position − confirmed position)',
    async collect() {
      const slot = await probeSlot().catch(() => null);
      if (slot) this.set(slot.lag_bytes);
    },
  });
  ctx.metrics.gauge({
    name: 'sillage_engagement_consumer_lag',
    help: 'Offsets not yet committed by the processor group, per partition',
    labelNames: ['partition'],
    async collect() {
      const consumer = await probeLag().catch(() => null);
      for (const [p, n] of Object.entries(consumer?.lag ?? {})) this.set({ partition: p }, n);
    },
  });
  ctx.health.register({
    name: 'engagement',
    check: async () => {
      const workers = { [CDC_WORKER]: ctx.workers.get(CDC_WORKER)?.status(), [PROCESSOR_WORKER]: ctx.workers.get(PROCESSOR_WORKER)?.status() };
      const problem = pipelineProblem(workers);
      if (problem) throw new Error(problem);
      const [slot, consumer] = await Promise.all([probeSlot(), probeLag()]);
      return {
        slot,
        consumer,
        last_commit_at: (workers[PROCESSOR_WORKER]?.lastCommitAt as string | undefined) ?? null,
        cdc: workers[CDC_WORKER]?.cdc ?? null,
        warehouse: ctx.config.warehouse,
        rest: ctx.config.EXTERNAL_SINK_URL ? { breaker: workers[PROCESSOR_WORKER]?.restBreaker ?? 'closed' } : null,
        redis_rebuild: workers[PROCESSOR_WORKER]?.redisRebuild ?? null,
      };
    },
  });
}

/** A status probe that names the dependency that did not answer, instead of the generic health timeout. */
async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: Timer | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not answer the pipeline status probe within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
