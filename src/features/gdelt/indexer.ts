import type { Clock } from '../../platform/clock.ts';
import type { Logger } from '../../platform/log.ts';
import type { BatchRecord, Catalog } from './catalog.ts';
import type { FromIndexWorker, IndexWorkerOptions, ToIndexWorker } from './index.worker.ts';
import type { Lake } from './lake.ts';
import type { SearchIndex } from './search-index.ts';

export type IndexFailure = { batch: string; message: string };
type Publishable = Pick<BatchRecord, 'table' | 'batch' | 'rows' | 'parquet_key'>;
type Reply = 'ready' | 'batch' | 'closed';
const replyTo = (m: FromIndexWorker): Reply => (m.type === 'indexed' || m.type === 'failed' ? 'batch' : m.type);

/**
 * The search-index stage of ingestion. A published events batch is handed over and indexed in the background, one
 * batch at a time in the order handed over, while the pipeline goes on with the next file. The work runs in a
 * thread of its own (index.worker.ts, started on first use), so the download, unzip and Parquet write of batch N+1
 * never wait behind the SQLite inserts of batch N. A job waits for the stage before it ends, so a succeeded job is
 * searchable. Until the stage reaches a batch it is in the lake (stats see it) but not in search: /health
 * (`lake.search_index`) and the batch list (`indexed_at`) show that lag. The index is derived from the lake:
 * `catchUp` indexes every published batch it lacks.
 */
export class Indexer {
  private tail: Promise<void> = Promise.resolve();
  private queued = new Set<string>();
  private failures: IndexFailure[] = [];
  private worker?: Worker;
  private opened?: Promise<void>;
  private waiting = new Map<Reply, { resolve(m: FromIndexWorker): void; reject(e: Error): void }>();

  constructor(
    private o: {
      /** The caller's connection to the index, to see what is indexed already. */
      index: SearchIndex;
      worker: IndexWorkerOptions;
      lake: Lake;
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
    const missing = catalog.keys('events').filter((k) => !indexed.has(k.batch) && !this.queued.has(k.batch));
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

  /**
   * Finishes the batches handed over, then ends the thread. After a stop request (the signal) it does not wait:
   * the running batch is rolled back and indexed again when the work resumes.
   */
  async close() {
    if (!this.o.signal?.aborted) await this.drain();
    const worker = this.worker;
    if (worker) {
      await this.request({ type: 'close' }, 'closed').catch(() => undefined);
      worker.terminate();
      this.worker = undefined;
    }
    await this.drain();
  }

  private request(msg: ToIndexWorker, reply: Reply): Promise<FromIndexWorker> {
    return new Promise((resolve, reject) => {
      this.waiting.set(reply, { resolve, reject });
      this.worker!.postMessage(msg);
    });
  }

  private open(): Promise<void> {
    return (this.opened ??= (async () => {
      const worker = new Worker(new URL('./index.worker.ts', import.meta.url).href);
      this.worker = worker;
      worker.onmessage = (e: MessageEvent<FromIndexWorker>) => {
        const key = replyTo(e.data);
        const waiter = this.waiting.get(key);
        this.waiting.delete(key);
        waiter?.resolve(e.data);
      };
      worker.onerror = (e) => {
        // The thread died: fail the requests in flight; the next batch starts a new thread.
        for (const w of this.waiting.values()) w.reject(new Error(`the index thread crashed: ${e.message}`));
        this.waiting.clear();
        this.opened = undefined;
        this.worker = undefined;
        worker.terminate();
      };
      const ready = await this.request({ type: 'open', options: this.o.worker }, 'ready');
      if (ready.type === 'ready' && ready.error) {
        worker.terminate();
        this.worker = undefined;
        throw new Error(`the index thread could not open the index: ${ready.error}`);
      }
    })().catch((e) => {
      this.opened = undefined;
      throw e;
    }));
  }

  private async run(record: Publishable) {
    if (this.o.signal?.aborted) return;
    const t0 = performance.now();
    try {
      await this.open();
      const path = await this.o.lake.localPath(record.parquet_key);
      const r = await this.request({ type: 'index', batch: record.batch, path, at: new Date(this.o.clock.now()).toISOString() }, 'batch');
      if (r.type === 'failed') {
        // Stopping rolls the batch back; it is indexed again when the work resumes.
        if (r.aborted) return;
        throw new Error(r.message);
      }
      if (r.type !== 'indexed' || r.skipped) return;
      this.o.onIndexed?.(performance.now() - t0, r.rows);
      if (r.superseded) this.o.log.info('duplicate event ids resolved (latest DATEADDED wins)', { batch: record.batch, superseded: r.superseded });
    } catch (e) {
      if (this.o.signal?.aborted) return;
      const message = e instanceof Error ? e.message : String(e);
      this.failures.push({ batch: record.batch, message });
      this.o.log.error('indexing a batch failed: it is in the lake but not searchable until indexed again', { batch: record.batch, error: message });
    }
  }
}
