/// <reference lib="webworker" />
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { errorMessage } from '../../platform/errors.ts';
import { loadLookups } from './lookups.ts';
import { readIndexRows, SearchIndex } from './search-index.ts';

export type IndexWorkerOptions = {
  indexPath: string;
  /** Folders DuckDB may read (the lake or its cache) and spill to. */
  readDirs: string[];
  tmpDir: string;
};
export type ToIndexWorker = { type: 'open'; options: IndexWorkerOptions } | { type: 'index'; batch: string; path: string; at: string } | { type: 'close' };
export type FromIndexWorker =
  | { type: 'ready'; error?: string }
  | { type: 'indexed'; batch: string; rows: number; superseded: number; skipped: boolean }
  | { type: 'failed'; batch: string; message: string; aborted: boolean }
  | { type: 'closed' };

// The search-index stage's thread (see indexer.ts): reads a published Parquet file with its own small DuckDB and
// writes the SQLite index, so the ingestion thread never waits behind index work. One request at a time.
let index: SearchIndex | undefined;
let instance: DuckDBInstance | undefined;
let duck: DuckDBConnection | undefined;
let current: Promise<void> | undefined;
const lookups = loadLookups();
const stop = new AbortController();
const post = (m: FromIndexWorker) => postMessage(m);
const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;

async function open(options: IndexWorkerOptions) {
  index = new SearchIndex(options.indexPath, { cacheMb: 16 });
  // Extension auto-install/auto-load are off from creation, before any statement could trigger them.
  instance = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  duck = await instance.connect();
  for (const sql of [
    `SET allowed_directories = [${[...options.readDirs, options.tmpDir].map((d) => quote(d + '/')).join(', ')}]`,
    `SET temp_directory = ${quote(options.tmpDir)}`,
    'SET enable_external_access = false',
    // One thread and a small budget: this stage streams one file at a time beside the ingestion's DuckDB.
    'SET threads = 1',
    "SET memory_limit = '256MB'",
    "SET allocator_bulk_deallocation_flush_threshold = '32MB'",
    'SET lock_configuration = true',
  ])
    await duck.run(sql);
}

self.onmessage = async (e: MessageEvent<ToIndexWorker>) => {
  const msg = e.data;
  if (msg.type === 'open') {
    await open(msg.options).then(
      () => post({ type: 'ready' }),
      (err) => post({ type: 'ready', error: errorMessage(err) }),
    );
  } else if (msg.type === 'index') {
    current = index!.addBatch(msg.batch, readIndexRows(duck!, msg.path), lookups, msg.at, stop.signal).then(
      (r) => post({ type: 'indexed', batch: msg.batch, rows: r?.rows ?? 0, superseded: r?.superseded ?? 0, skipped: !r }),
      (err) => post({ type: 'failed', batch: msg.batch, message: errorMessage(err), aborted: stop.signal.aborted }),
    );
  } else if (msg.type === 'close') {
    stop.abort(new Error('index stage stopping'));
    // A running batch sees the abort at its next chunk and rolls back before the connections close.
    await current;
    duck?.closeSync();
    instance?.closeSync();
    index?.close();
    post({ type: 'closed' });
  }
};
