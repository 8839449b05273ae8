import type { DuckDBConnection } from '@duckdb/node-api';
import type { Clock } from '../../platform/clock.ts';
import { errorMessage } from '../../platform/errors.ts';
import type { Logger } from '../../platform/log.ts';
import type { BatchRecord, Catalog } from './catalog.ts';
import type { Lake } from './lake.ts';
import type { Lookups } from './lookups.ts';
import { readIndexRows, type SearchIndex } from './search-index.ts';

export type IndexFailure = { batch: string; message: string };
type Publishable = Pick<BatchRecord, 'table' | 'batch' | 'rows' | 'parquet_key'>;

/**
 * The search-index stage of ingestion. A published events batch is handed over and indexed in the background, one
 * batch at a time in the order handed over, while the pipeline goes on with the next file: the SQLite inserts of
 * batch N (this thread) overlap the download, unzip and DuckDB Parquet write of batch N+1 (DuckDB's threads).
 * A job waits for the stage before it ends, so a succeeded job is searchable. Until the stage reaches a batch it is
 * in the lake (stats see it) but not in search: /health (`lake.search_index`) and the batch list (`indexed_at`)
 * show that lag. The index is derived from the lake: `catchUp` indexes every published batch it lacks.
 */
export class Indexer {
  private tail: Promise<void> = Promise.resolve();
  private queued = new Set<string>();
  private failures: IndexFailure[] = [];

  constructor(
    private o: {
      index: SearchIndex;
      /** A connection of its own: the pipeline's connection is busy writing the next batch meanwhile. */
      duck: DuckDBConnection;
      lake: Lake;
      lookups: Lookups;
      clock: Clock;
      log: Logger;
      signal?: AbortSignal;
      onIndexed?: (ms: number, rows: number) => void;
    },
  ) {}

  /** Queues a published batch, unless it is indexed or queued already (mentions are not indexed). */
  add(record: Publishable) {
    if (record.table !== 'events' || record.rows === 0 || this.queued.has(record.batch) || this.o.index.isIndexed(record.batch)) return;
    this.queued.add(record.batch);
    this.tail = this.tail.then(() => this.run(record)).finally(() => this.queued.delete(record.batch));
  }

  /** Queues every published events batch the index lacks (a crash between publish and index, a lost index file). */
  catchUp(catalog: Catalog): number {
    const indexed = this.o.index.indexedBatches();
    const missing = catalog.keys('events').filter((k) => !indexed.has(k.batch));
    for (const k of missing) this.add({ table: 'events', batch: k.batch, rows: 1, parquet_key: k.key });
    if (missing.length) this.o.log.info('indexing published batches the search index lacks', { batches: missing.length });
    return missing.length;
  }

  /** Batches handed over and not indexed yet. */
  get pending(): number {
    return this.queued.size;
  }

  /** Waits until every batch handed over is indexed (or failed), then returns and forgets the failures. */
  async drain(): Promise<IndexFailure[]> {
    let tail;
    do await (tail = this.tail);
    while (tail !== this.tail);
    const failures = this.failures;
    this.failures = [];
    return failures;
  }

  private async run(record: Publishable) {
    if (this.o.signal?.aborted) return;
    const t0 = performance.now();
    try {
      const path = await this.o.lake.localPath(record.parquet_key);
      const at = new Date(this.o.clock.now()).toISOString();
      const r = await this.o.index.addBatch(record.batch, readIndexRows(this.o.duck, path), this.o.lookups, at, this.o.signal);
      if (!r) return;
      this.o.onIndexed?.(performance.now() - t0, r.rows);
      if (r.superseded) this.o.log.info('duplicate event ids resolved (latest DATEADDED wins)', { batch: record.batch, superseded: r.superseded });
    } catch (e) {
      // Stopping rolls the batch back; it is indexed again when the work resumes.
      if (this.o.signal?.aborted) return;
      this.failures.push({ batch: record.batch, message: errorMessage(e) });
      this.o.log.error('indexing a batch failed: it is in the lake but not searchable until indexed again', { batch: record.batch, error: errorMessage(e) });
    }
  }
}
