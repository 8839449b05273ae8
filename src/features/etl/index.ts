import type { Config } from '../../platform/config.ts';
import type { AppContext } from '../../platform/context.ts';
import type { SourceOptions } from './extract.ts';
import { etlRoutes } from './routes.ts';
import { EtlRunner } from './runner.ts';
import { runOnSchedule } from './schedule.ts';

export function sourceOptions(config: Config): SourceOptions {
  return {
    url: config.ETL_SOURCE_URL,
    pageSize: config.ETL_PAGE_SIZE,
    timeoutMs: config.ETL_TIMEOUT_MS,
    maxResponseBytes: config.ETL_MAX_RESPONSE_BYTES,
    retries: config.ETL_RETRIES,
    retryBaseDelayMs: config.ETL_RETRY_BASE_DELAY_MS,
  };
}

/**
 * The REST → SQLite ETL: routes, the run history, and (with ETL_SCHEDULE_MINUTES, in the `all` and `ingest`
 * roles) a schedule inside the server. On shutdown a run in progress is interrupted and recorded as failed.
 */
export function etl(ctx: AppContext) {
  const { config } = ctx;
  const runner = new EtlRunner({ db: ctx.stores.sqlite.db, source: sourceOptions(config), clock: ctx.clock, log: ctx.log, metrics: ctx.metrics });
  runner.runs.reapAbandoned();

  const everyMinutes = config.ETL_SCHEDULE_MINUTES;
  const scheduled = everyMinutes !== undefined && ctx.runs('ingest');
  ctx.health.register({
    name: 'etl',
    check: async () => {
      const last = runner.runs.last();
      return { last_run: last ? { id: last.id, status: last.status, started_at: last.started_at } : null, schedule_minutes: scheduled ? everyMinutes : null };
    },
  });

  const stopSchedule = new AbortController();
  if (scheduled) {
    ctx.log.child({ component: 'etl' }).info('ETL scheduled', { everyMinutes });
    void runOnSchedule({
      everyMs: everyMinutes * 60_000,
      clock: ctx.clock,
      log: ctx.log.child({ component: 'etl.schedule' }),
      signal: stopSchedule.signal,
      lastStartedAt: () => runner.runs.lastStartedAt(),
      runOnce: () => runner.start().done,
    });
  }
  ctx.onClose(async () => {
    stopSchedule.abort();
    await runner.stop();
  });
  return etlRoutes(ctx, runner);
}
