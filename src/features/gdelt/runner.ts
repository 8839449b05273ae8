import { DuckDBInstance } from '@duckdb/node-api';
import { join } from 'node:path';
import type { Clock } from '../../platform/clock.ts';
import { errorMessage } from '../../platform/errors.ts';
import type { Logger } from '../../platform/log.ts';
import { ROOT } from '../../platform/context.ts';
import { openSqlite } from '../../platform/stores/sqlite.ts';
import { Catalog } from './catalog.ts';
import { Indexer } from './indexer.ts';
import type { IngestEnv } from './ingest.ts';
import { runJob } from './ingest.ts';
import { FileLake, openLake, type LakeOptions } from './lake.ts';
import { loadLookups } from './lookups.ts';
import { latestBatches } from './manifest.ts';
import { JobQueue, processOwner, type JobView } from './queue.ts';
import type { TableName } from './schema.ts';
import { SearchIndex } from './search-index.ts';

/** Plain data (it crosses into a Worker): where everything lives and how ingestion behaves. */
export type IngestOptions = {
  dataDir: string;
  lake: LakeOptions;
  baseUrl: string;
  timeoutMs: number;
  tables: TableName[];
  pollMinutes?: number;
  /** How often an idle worker looks for jobs queued by another process (the API wakes it directly). */
  idleCheckMs: number;
  leaseMs: number;
};

export const paths = (dataDir: string) => ({
  sqlite: join(dataDir, 'sillage.db'),
  index: join(dataDir, 'gdelt-index.db'),
  tmp: join(dataDir, 'tmp', 'gdelt'),
  cache: join(dataDir, 'lake-cache'),
});

/**
 * Opens what ingestion needs in the caller's realm. The DuckDB instance is in-memory and may only touch the
 * temporary folder and the lake (or its cache). The index stage runs in a thread of its own (indexer.ts).
 */
export async function openIngestEnv(options: IngestOptions, deps: { log: Logger; clock: Clock; signal?: AbortSignal }): Promise<IngestEnv & { close(): Promise<void> }> {
  const p = paths(options.dataDir);
  const sqlite = openSqlite({ path: p.sqlite, migrationsDir: join(ROOT, 'db/sqlite') });
  // This connection only checks what is indexed; the index stage writes through its own (index.worker.ts).
  const index = new SearchIndex(p.index, { cacheMb: 4 });
  const lake = openLake(options.lake);
  // Extension auto-install/auto-load are off from creation, before any statement could trigger them.
  const instance = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  const duck = await instance.connect();
  const lakeDir = lake instanceof FileLake ? lake.root : options.lake.cacheDir;
  for (const sql of [
    `SET allowed_directories = ['${p.tmp.replaceAll("'", "''")}/', '${lakeDir.replaceAll("'", "''")}/']`,
    `SET temp_directory = '${join(p.tmp, 'duckdb').replaceAll("'", "''")}'`,
    "SET enable_external_access = false",
    "SET memory_limit = '1GB'",
    // One thread: the index stage works on the other core meanwhile (the benchmark found this faster end to end
    // than two threads here, and no slower to publish, on a 2-core machine).
    'SET threads = 1',
    // DuckDB's allocator otherwise keeps up to 512 MB after each Parquet write (≈ +300 MB RSS on 50k-row batches).
    "SET allocator_bulk_deallocation_flush_threshold = '32MB'",
    "SET lock_configuration = true",
  ])
    await duck.run(sql);
  const swept = await lake.sweep();
  if (swept) deps.log.warn('removed temporary files left by an interrupted run', { files: swept });
  const lookups = loadLookups();
  const env: IngestEnv & { close(): Promise<void> } = {
    lake,
    catalog: new Catalog(sqlite.db),
    queue: new JobQueue(sqlite.db, () => deps.clock.now()),
    indexer: new Indexer({
      index,
      worker: { indexPath: p.index, readDirs: [lakeDir], tmpDir: join(p.tmp, 'index') },
      lake,
      clock: deps.clock,
      log: deps.log,
      signal: deps.signal,
      onIndexed: (ms) => env.onStep?.('index', ms),
    }),
    lookups,
    duck,
    tmpDir: p.tmp,
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    timeoutMs: options.timeoutMs,
    tables: options.tables,
    clock: deps.clock,
    log: deps.log,
    signal: deps.signal,
    close: async () => {
      await env.indexer.close();
      duck.closeSync();
      instance.closeSync();
      index.close();
      await sqlite.close();
    },
  };
  return env;
}

/**
 * The worker's loop: take a job, run it, repeat; when idle, sleep until woken, the idle check, or the next poll
 * of lastupdate.txt (when GDELT_POLL_MINUTES is set), which enqueues the newest batch if the lake lacks it.
 */
export async function workLoop(
  env: IngestEnv,
  options: IngestOptions,
  io: { signal: AbortSignal; onJob(job: JobView): void; waitForWake(ms: number): Promise<void> },
) {
  const owner = processOwner();
  env.indexer.catchUp(env.catalog);
  let nextPollAt = options.pollMinutes ? env.clock.now() : Infinity;
  while (!io.signal.aborted) {
    if (env.clock.now() >= nextPollAt) {
      nextPollAt = env.clock.now() + options.pollMinutes! * 60_000;
      await pollLatest(env).catch((e) => env.log.warn('polling lastupdate.txt failed; will try again at the next poll', { error: errorMessage(e) }));
    }
    const job = env.queue.claim(owner, options.leaseMs);
    if (job) {
      io.onJob(job);
      const beat = setInterval(() => env.queue.heartbeat(job.job_id, owner, options.leaseMs), Math.max(1000, options.leaseMs / 3));
      try {
        await runJob(env, job, { heartbeat: () => env.queue.heartbeat(job.job_id, owner, options.leaseMs), progress: io.onJob });
      } finally {
        clearInterval(beat);
      }
      continue;
    }
    await io.waitForWake(Math.min(options.idleCheckMs, Math.max(0, nextPollAt - env.clock.now())));
  }
}

/** Enqueues a `poll` job for the newest batch unless the lake has it or such a job is already open. */
export async function pollLatest(env: IngestEnv) {
  if (env.queue.hasOpen('poll')) return;
  const { batches } = await latestBatches({ baseUrl: env.baseUrl, timeoutMs: env.timeoutMs, clock: env.clock, signal: env.signal, tables: env.tables }, 1);
  const newest = batches.at(-1);
  if (!newest) return;
  if (newest.files.every((f) => env.catalog.get(f.table, f.batch)?.md5 === f.md5)) return;
  const job = env.queue.enqueue('poll', { n_batches: 1 });
  env.log.info('new batch announced; job queued', { batch: newest.batch, job: job.job_id });
}
