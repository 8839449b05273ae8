import { resolve } from 'node:path';
import type { AppContext } from '../../platform/context.ts';
import { errorMessage, unavailable } from '../../platform/errors.ts';
import { backoffDelay } from '../../platform/retry.ts';
import { StreamJobs } from './jobs.ts';
import { streamsRoutes } from './routes.ts';

/**
 * Stream analytics: declarative windowed aggregations over Kafka topics, results in Postgres and Redis.
 * Needs DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS and REDIS_URL; without them every route answers 503 saying which
 * are missing, and /health shows `streams: disabled`.
 *
 * Job workers run in the process that serves the API (ROLE `all` or including `api`), not in the processors:
 * starting a POSTed job, stopping a DELETEd one, the runtime status and the `/live` feed all go through the
 * worker handles and listeners this process holds in memory, so a job running anywhere else could be neither
 * controlled nor watched. A job is one worker with a fenced checkpoint, so running it in several replicas would
 * only make them fence each other; it scales per job (one worker each), not per replica.
 */
export function streams(ctx: AppContext) {
  const { postgres, kafka, redis } = ctx.stores;
  const missing = [!postgres && 'DATABASE_URL', !kafka && 'KAFKA_BOOTSTRAP_SERVERS', !redis && 'REDIS_URL'].filter(Boolean) as string[];
  const disabledReason = `set ${missing.join(', ')} to enable`;

  if (missing.length) {
    ctx.health.register({ name: 'streams', disabledReason });
    const disabled = () =>
      Promise.reject(unavailable('streams_disabled', `Stream analytics is disabled: it needs Postgres, Kafka and Redis. Set ${missing.join(', ')} (see README "Configuration") and restart.`));
    return streamsRoutes(ctx, disabled);
  }

  const manager = new StreamJobs(ctx, { dir: resolve(ctx.config.STREAMS_DIR), runWorkers: ctx.runs('api') });
  const log = ctx.log.child({ component: 'streams' });
  const stop = new AbortController();
  let lastError: string | undefined;
  // Postgres may come up after us: keep trying to start, and answer 503 with the reason meanwhile.
  const ready: Promise<StreamJobs> = (async () => {
    for (let attempt = 0; ; attempt++) {
      try {
        await manager.start();
        lastError = undefined;
        return manager;
      } catch (e) {
        lastError = errorMessage(e);
        log.error('stream jobs could not start; retrying', { attempt, error: lastError });
        await ctx.clock.sleep(Math.max(500, backoffDelay(attempt, 1000, 30_000)), stop.signal);
      }
    }
  })();
  ready.catch(() => {});
  let started = false;
  void ready.then(
    () => (started = true),
    () => {},
  );

  ctx.health.register({
    name: 'streams',
    check: async () => {
      if (!started) throw new Error(lastError ? `starting: ${lastError}` : 'starting');
      return manager.health();
    },
  });
  ctx.onClose(async () => {
    stop.abort();
    await manager.close();
  });

  // A request that arrives while the jobs start waits a little for them rather than failing at once.
  const jobs = async () => {
    if (started) return manager;
    const waited = await Promise.race([ready, ctx.clock.sleep(5000).then(() => undefined)]);
    if (waited) return waited;
    throw unavailable('streams_starting', `Stream analytics is starting${lastError ? ` (last error: ${lastError})` : ''}; retry in a few seconds.`);
  };
  return streamsRoutes(ctx, jobs);
}
