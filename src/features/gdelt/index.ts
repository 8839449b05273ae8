import type { Config } from '../../platform/config.ts';
import type { AppContext } from '../../platform/context.ts';
import { checkLake } from '../../platform/stores/lake.ts';
import type { WorkerHandle } from '../../platform/workers/supervisor.ts';
import { Catalog } from './catalog.ts';
import type { IngestCommand, IngestEvent } from './ingest.worker.ts';
import { openLake, type LakeOptions } from './lake.ts';
import { loadLookups, type Lookups } from './lookups.ts';
import { LakeQuery } from './query.ts';
import { JobQueue, type JobKind, type JobParams, type JobView } from './queue.ts';
import { gdeltRoutes } from './routes.ts';
import { paths, type IngestOptions } from './runner.ts';
import { SearchIndex } from './search-index.ts';

export const lakeOptions = (config: Config): LakeOptions => ({
  lakeUrl: config.lakeUrl,
  cacheDir: paths(config.dataDir).cache,
  s3: { endpoint: config.S3_ENDPOINT, region: config.S3_REGION, accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY },
});

export const ingestOptions = (config: Config): IngestOptions => ({
  dataDir: config.dataDir,
  lake: lakeOptions(config),
  baseUrl: config.GDELT_BASE_URL,
  timeoutMs: config.GDELT_DOWNLOAD_TIMEOUT_SECONDS * 1000,
  tables: config.GDELT_TABLES,
  pollMinutes: config.GDELT_POLL_MINUTES,
  idleCheckMs: 2000,
  leaseMs: 30_000,
});

/** What the routes use: the queue and catalog (service SQLite), the search index, the lake query engine. */
export type GdeltService = {
  queue: JobQueue;
  catalog: Catalog;
  index: SearchIndex;
  lookups: Lookups;
  query(): Promise<LakeQuery>;
  enqueue(kind: JobKind, params: JobParams): JobView;
};

/**
 * The GDELT lake feature. Ingestion runs in a Bun worker, started when there is work (a job is queued, a job
 * was left running by a crash, or GDELT_POLL_MINUTES is set) so an idle service does not hold a DuckDB for it;
 * only a process whose ROLE includes `ingest` (or is `all`) runs it.
 */
export function gdelt(ctx: AppContext) {
  const log = ctx.log.child({ component: 'gdelt' });
  const workerLog = ctx.log.child({ component: 'gdelt-ingest' });
  const p = paths(ctx.config.dataDir);
  const lake = openLake(lakeOptions(ctx.config));
  const catalog = new Catalog(ctx.stores.sqlite.db);
  const queue = new JobQueue(ctx.stores.sqlite.db, () => ctx.clock.now());
  const index = new SearchIndex(p.index);
  const lookups = loadLookups();
  const jobs = ctx.metrics.counter({ name: 'sillage_gdelt_jobs_total', help: 'GDELT ingestion jobs finished, by state', labelNames: ['state'] as const });
  // Every state exists from the start at 0, so increase() over the first failure sees it.
  for (const state of ['succeeded', 'failed']) jobs.inc({ state }, 0);
  let query: Promise<LakeQuery> | undefined;
  const getQuery = () =>
    (query ??= LakeQuery.open({ lake, catalog, index, cacheDir: p.cache, tmpDir: p.tmp, timeoutMs: ctx.config.GDELT_QUERY_TIMEOUT_MS, s3: lakeOptions(ctx.config).s3 }).catch((e) => {
      query = undefined;
      throw e;
    }));

  const runsWorker = ctx.runs('ingest');
  let worker: WorkerHandle<IngestCommand> | undefined;
  const ensureWorker = () => {
    if (!runsWorker) return;
    if (worker) return worker.send({ type: 'wake' });
    worker = ctx.workers.spawn<IngestOptions, IngestCommand, IngestEvent>({
      name: 'gdelt-ingest',
      url: new URL('./ingest.worker.ts', import.meta.url),
      options: ingestOptions(ctx.config),
      onEvent: (e) => {
        if (e.type === 'log') {
          const { level, msg, time: _t, ...fields } = e.line as { level: 'info'; msg: string; time: string };
          workerLog[level](msg, fields);
        } else if (e.job.state === 'succeeded' || e.job.state === 'failed') jobs.inc({ state: e.job.state });
      },
    });
  };
  /** Published events batches not in the search index yet (the index stage lags, or the index file was lost). */
  const indexLag = () => Math.max(0, catalog.count('events') - index.indexedSummary().batches);
  // A lagging index is caught up by the worker (it indexes what the lake has and the index lacks). An ingest
  // process that serves no API runs the worker at once: jobs are queued by another process (in the shared SQLite),
  // so no enqueue here would wake it.
  if (runsWorker && (!ctx.runs('api') || ctx.config.GDELT_POLL_MINUTES || queue.openCount() > 0 || indexLag() > 0)) ensureWorker();

  ctx.health.register({
    name: 'lake',
    check: async () => {
      const base = await checkLake(ctx.stores.lake);
      const q = await getQuery();
      const indexed = index.indexedSummary();
      return {
        ...base,
        ...lake.describe(),
        query_access: q.queryAccess,
        httpfs: q.httpfs,
        batches: catalog.list({ limit: 1, offset: 0 }).total,
        newest_batch: catalog.newest('events') ?? null,
        search_index: { indexed_batches: indexed.batches, pending_batches: indexLag(), newest_indexed_batch: indexed.newest },
      };
    },
  });
  ctx.onClose(async () => {
    if (query) await (await query.catch(() => undefined))?.close();
    index.close();
  });
  log.debug('gdelt feature ready', { lake: lake.describe(), worker: runsWorker ? 'on demand' : `off (ROLE=${ctx.config.ROLE.join(',')})` });

  const service: GdeltService = {
    queue,
    catalog,
    index,
    lookups,
    query: getQuery,
    enqueue: (kind, params) => {
      const job = queue.enqueue(kind, params);
      ensureWorker();
      return job;
    },
  };
  return gdeltRoutes(ctx, service);
}
