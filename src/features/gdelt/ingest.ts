import type { DuckDBConnection } from '@duckdb/node-api';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../platform/clock.ts';
import { AppError, errorMessage, terminal } from '../../platform/errors.ts';
import type { Logger } from '../../platform/log.ts';
import { markerKey, parquetKey, quarantineKey, type BatchRecord, type Catalog } from './catalog.ts';
import { downloadVerified } from './download.ts';
import type { Indexer } from './indexer.ts';
import type { Lake } from './lake.ts';
import type { Lookups } from './lookups.ts';
import { latestBatches, parseBoundary, rangeBatches, type ManifestSource } from './manifest.ts';
import { writeBatchParquet } from './parquet.ts';
import type { FileRow, JobError, JobQueue, JobView } from './queue.ts';
import type { TableName } from './schema.ts';
import { unzipSingle } from './unzip.ts';

/** Everything the ingestion steps use, built by the worker (or the CLI) in its own realm. */
export type IngestEnv = {
  lake: Lake;
  catalog: Catalog;
  queue: JobQueue;
  /** The search-index stage: published events batches are handed to it and indexed while the next file is written. */
  indexer: Indexer;
  lookups: Lookups;
  duck: DuckDBConnection;
  tmpDir: string;
  baseUrl: string;
  timeoutMs: number;
  tables: TableName[];
  clock: Clock;
  log: Logger;
  signal?: AbortSignal;
  /** Called with the time each step of a file took (download, unzip, parquet, publish; index runs beside them), for metrics and benchmarks. */
  onStep?: (step: 'download' | 'unzip' | 'parquet' | 'publish' | 'index', ms: number) => void;
};

export type FileToIngest = { batch: string; table: TableName; name: string; size: number; md5: string };
export type FileOutcome = { state: 'done' | 'skipped'; rows: number; quarantined: number };

const iso = (env: IngestEnv) => new Date(env.clock.now()).toISOString();

/**
 * Ingests one batch file: download and verify, unzip, parse and write Parquet, publish, record, then hand it to
 * the index stage (which indexes it while the next file is written). A file already in the lake with the same md5
 * is skipped (only its index entry is completed if a crash interrupted it).
 * Every temporary file lives under tmpDir and is removed; the lake only ever receives complete objects.
 */
export async function ingestFile(env: IngestEnv, file: FileToIngest): Promise<FileOutcome> {
  const known = env.catalog.get(file.table, file.batch);
  if (known && known.md5 === file.md5) {
    env.indexer.add(known);
    return { state: 'skipped', rows: known.rows, quarantined: known.quarantined_rows };
  }
  // Published by a run that died before recording it (or by another service on the same lake): adopt it.
  const marker = await env.lake.getText(markerKey(file.table, file.batch));
  if (marker) {
    const record = JSON.parse(marker) as BatchRecord;
    if (record.md5 === file.md5) {
      env.catalog.record(record);
      env.indexer.add(record);
      return { state: 'skipped', rows: record.rows, quarantined: record.quarantined_rows };
    }
  }

  await mkdir(env.tmpDir, { recursive: true });
  const stem = join(env.tmpDir, `${file.table}-${file.batch}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  const zip = `${stem}.zip`;
  const csv = `${stem}.csv`;
  const parquet = `${stem}.parquet`;
  try {
    const url = `${env.baseUrl}/${file.name}`;
    let t0 = performance.now();
    const step = (name: Parameters<NonNullable<IngestEnv['onStep']>>[0]) => {
      const now = performance.now();
      env.onStep?.(name, now - t0);
      t0 = now;
    };
    await downloadVerified(url, zip, file, { timeoutMs: env.timeoutMs, clock: env.clock, signal: env.signal });
    step('download');
    const unzipped = await unzipSingle(zip, csv);
    await rm(zip, { force: true });
    step('unzip');
    if (unzipped.bytes === 0)
      throw terminal('empty_file', `${file.name} holds an empty CSV (${unzipped.member}); a GDELT batch always has rows, so this looks like a broken upload. Nothing was published.`);
    const written = await writeBatchParquet(env.duck, { table: file.table, csvPath: csv, parquetPath: parquet });
    await rm(csv, { force: true });
    step('parquet');

    const qKey = written.quarantined.length ? quarantineKey(file.table, file.batch) : null;
    if (qKey) await env.lake.putText(qKey, written.quarantined.map((q) => JSON.stringify({ batch: file.batch, file: file.name, ...q })).join('\n') + '\n');
    const key = parquetKey(file.table, file.batch);
    const { bytes } = await env.lake.put(key, parquet);
    const record: BatchRecord = {
      table: file.table,
      batch: file.batch,
      name: file.name,
      rows: written.rows,
      bytes: file.size,
      md5: file.md5,
      quarantined_rows: written.quarantined.length,
      parquet_key: key,
      parquet_bytes: bytes,
      quarantine_key: qKey,
      ingested_at: iso(env),
    };
    // The manifest object is written last: a batch without one is not published, whatever else is in the lake.
    await env.lake.putText(markerKey(file.table, file.batch), JSON.stringify(record));
    env.catalog.record(record);
    step('publish');
    if (written.quarantined.length)
      env.log.warn('rows quarantined', { batch: file.batch, table: file.table, rows: written.quarantined.length, first: written.quarantined[0]!.reasons[0], key: qKey });
    env.indexer.add(record);
    return { state: 'done', rows: written.rows, quarantined: written.quarantined.length };
  } finally {
    await Promise.all([zip, csv, parquet].map((p) => rm(p, { force: true })));
  }
}

/** Resolves what a job covers from the manifests, once; the plan is stored so a resumed job does not re-resolve. */
async function plan(env: IngestEnv, job: JobView) {
  const source: ManifestSource = { baseUrl: env.baseUrl, timeoutMs: env.timeoutMs, clock: env.clock, signal: env.signal, tables: env.tables };
  const resolved =
    job.kind === 'range'
      ? await rangeBatches(source, parseBoundary(job.params.from!, 'from', false), parseBoundary(job.params.to!, 'to', true))
      : await latestBatches(source, job.params.n_batches ?? 1);
  env.queue.plan(job.job_id, resolved.batches, resolved.problems);
}

const jobError = (e: unknown, file?: Pick<FileRow, 'batch' | 'tbl' | 'name'>): JobError => ({
  code: e instanceof AppError ? e.code : 'internal',
  message: file ? `${file.name}: ${errorMessage(e)}` : errorMessage(e),
  ...(file ? { batch: file.batch, table: file.tbl } : {}),
});

/**
 * Runs a claimed job to the end: plan, then each pending file in batch order, then wait for the index stage so a
 * succeeded job is searchable. A file that fails for good is recorded with its reason and the job goes on; the job
 * fails at the end if any file failed or could not be indexed. A stop request (the signal) leaves the job `running`
 * with its progress, to be resumed.
 */
export async function runJob(env: IngestEnv, job: JobView & { planned: boolean }, hooks: { heartbeat(): void; progress(job: JobView): void }) {
  const log = env.log.child({ job: job.job_id });
  try {
    if (!job.planned) await plan(env, job);
  } catch (e) {
    if (env.signal?.aborted) return;
    log.error('job could not be planned', { error: errorMessage(e) });
    env.queue.finish(job.job_id, [jobError(e)]);
    hooks.progress(env.queue.get(job.job_id)!);
    return;
  }
  hooks.progress(env.queue.get(job.job_id)!);
  // Files a previous run of this job published but did not get to index (and any other such batch).
  env.indexer.catchUp(env.catalog);
  for (const file of env.queue.pendingFiles(job.job_id)) {
    if (env.signal?.aborted) return;
    hooks.heartbeat();
    try {
      const outcome = await ingestFile(env, { batch: file.batch, table: file.tbl, name: file.name, size: file.size, md5: file.md5 });
      env.queue.fileDone(job.job_id, file, { state: outcome.state, rows: outcome.rows, quarantined: outcome.quarantined });
      log.info('batch file ingested', { batch: file.batch, table: file.tbl, ...outcome });
    } catch (e) {
      if (env.signal?.aborted) return;
      log.warn('batch file failed', { batch: file.batch, table: file.tbl, error: errorMessage(e) });
      env.queue.fileDone(job.job_id, file, { state: 'failed', rows: 0, quarantined: 0, error: jobError(e, file) });
    }
    hooks.progress(env.queue.get(job.job_id)!);
  }
  const failures = await env.indexer.drain();
  if (env.signal?.aborted) return;
  env.queue.finish(
    job.job_id,
    failures.map((f) => ({ code: 'index_failed', message: `batch ${f.batch} is in the lake but could not be indexed for search: ${f.message}. It is indexed again by the next job or worker start.`, batch: f.batch, table: 'events' })),
  );
  const done = env.queue.get(job.job_id)!;
  log.info('job finished', { state: done.state, rows: done.rows, errors: done.errors.length });
  hooks.progress(done);
}
