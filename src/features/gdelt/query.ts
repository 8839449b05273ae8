import { DuckDBListType, DuckDBVarCharType, listValue, type DuckDBValue } from '@duckdb/node-api';
import { mkdirSync } from 'node:fs';
import { AppError, errorMessage } from '../../platform/errors.ts';
import { openDuckDB, type DuckStore } from '../../platform/stores/duckdb.ts';
import type { Catalog } from './catalog.ts';
import { FileLake, type Lake } from './lake.ts';
import type { TableName } from './schema.ts';
import type { SearchIndex } from './search-index.ts';

const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;

/**
 * DuckDB over the lake, for the API. Its own in-memory instance, locked down before the first query: no file
 * access outside the lake (or its local cache), no extension loading, configuration locked. Only parameterised
 * SQL reaches it, every query has a deadline (DuckDB is interrupted when it passes), and the files a query reads
 * come from the catalog, so a file that is not published is never read.
 */
export class LakeQuery {
  private constructor(
    readonly duck: DuckStore,
    private lake: Lake,
    private catalog: Catalog,
    private index: SearchIndex,
    private timeoutMs: number,
    readonly httpfs: string,
  ) {}

  static async open(options: { lake: Lake; catalog: Catalog; index: SearchIndex; cacheDir: string; tmpDir: string; timeoutMs: number }) {
    const duck = await openDuckDB({ path: ':memory:', settings: { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' } });
    const dir = options.lake instanceof FileLake ? options.lake.root : options.cacheDir;
    mkdirSync(dir, { recursive: true });
    // Tell /health why S3 lakes are read through the cache: httpfs is not bundled and cannot be fetched offline.
    let httpfs = 'not needed (local lake)';
    if (options.lake.kind === 's3') {
      httpfs = await duck.run('LOAD httpfs').then(
        () => 'loadable, but the cache is used so local and S3 lakes answer alike',
        (e) => `not loadable (${errorMessage(e).split('\n')[0]}); reading through the local cache`,
      );
    }
    for (const sql of [
      `SET allowed_directories = [${quote(dir + '/')}]`,
      `SET temp_directory = ${quote(options.tmpDir)}`,
      'SET enable_external_access = false',
      'SET parquet_metadata_cache = true',
      "SET memory_limit = '1GB'",
      'SET lock_configuration = true',
    ])
      await duck.run(sql);
    return new LakeQuery(duck, options.lake, options.catalog, options.index, options.timeoutMs, httpfs);
  }

  /** Local paths of the published files of a table in a time window (fetched into the cache for S3). */
  async files(table: TableName, fromMs?: number, toMs?: number): Promise<{ batch: string; path: string }[]> {
    const keys = this.catalog.keys(table, fromMs, toMs);
    return Promise.all(keys.map(async (k) => ({ batch: k.batch, path: await this.lake.localPath(k.key) })));
  }

  /**
   * The rows of these files as a FROM item, leaving out rows that lost to a newer copy of their event id. Only the
   * files that hold such rows pay for the anti-join (keyed by file and id); the others are read as they are.
   * Pass the returned lists to `all`.
   */
  async source(table: TableName, files: { batch: string; path: string }[]): Promise<{ from: string; lists: Record<string, string[]> }> {
    const dirty = table === 'events' ? await this.syncSuperseded() : new Set<string>();
    const clean = files.filter((f) => !dirty.has(f.batch));
    if (clean.length === files.length) return { from: 'read_parquet($files)', lists: { files: files.map((f) => f.path) } };
    const losers = files.filter((f) => dirty.has(f.batch));
    const minus = `SELECT r.* EXCLUDE (filename) FROM read_parquet($dirty, filename = true) r
      ANTI JOIN (SELECT f.path, s.id FROM superseded s JOIN (SELECT unnest($dirty) AS path, unnest($dirty_batches) AS batch) f USING (batch)) x
      ON x.path = r.filename AND x.id = r.GLOBALEVENTID`;
    return {
      from: `(${clean.length ? `SELECT * FROM read_parquet($files) UNION ALL ` : ''}${minus})`,
      lists: { ...(clean.length ? { files: clean.map((f) => f.path) } : {}), dirty: losers.map((f) => f.path), dirty_batches: losers.map((f) => f.batch) },
    };
  }

  private syncedSuperseded = -1;
  private dirtyBatches = new Set<string>();
  private syncing: Promise<unknown> = Promise.resolve();
  /**
   * Mirrors the index's superseded pairs into DuckDB when they changed and returns the batches that hold some.
   * Queries arriving together share one rebuild at a time: two connections replacing the table at once fail
   * with a catalog write-write conflict.
   */
  private syncSuperseded(): Promise<Set<string>> {
    if (this.index.supersededCount() === this.syncedSuperseded) return Promise.resolve(this.dirtyBatches);
    const run = this.syncing.then(() => this.rebuildSuperseded());
    this.syncing = run.catch(() => {});
    return run;
  }

  private async rebuildSuperseded(): Promise<Set<string>> {
    const n = this.index.supersededCount();
    if (n === this.syncedSuperseded) return this.dirtyBatches;
    const pairs = this.index.superseded();
    await this.duck.withConnection(async (c) => {
      await c.run('CREATE OR REPLACE TABLE superseded (batch VARCHAR, id BIGINT)');
      const appender = await c.createAppender('superseded');
      for (const s of pairs) {
        appender.appendVarchar(s.batch);
        appender.appendBigInt(BigInt(s.id));
        appender.endRow();
      }
      appender.closeSync();
    });
    this.dirtyBatches = new Set(pairs.map((p) => p.batch));
    this.syncedSuperseded = n;
    return this.dirtyBatches;
  }

  /** Runs a parameterised query with a deadline; each of `lists` (e.g. `$files`) is bound as a VARCHAR[]. */
  async all<T>(sql: string, params: Record<string, DuckDBValue>, lists: Record<string, string[]>): Promise<T[]> {
    const listType = new DuckDBListType(DuckDBVarCharType.instance);
    const values = { ...params, ...Object.fromEntries(Object.entries(lists).map(([k, v]) => [k, listValue(v)])) };
    const types = Object.fromEntries(Object.keys(lists).map((k) => [k, listType]));
    return this.duck.withConnection(async (c) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        c.interrupt();
      }, this.timeoutMs);
      try {
        const reader = await c.runAndReadAll(sql, values, types);
        return reader.getRowObjectsJson() as T[];
      } catch (e) {
        if (timedOut)
          throw new AppError('query_timeout', `The query took longer than ${this.timeoutMs} ms and was stopped. Narrow it with since/until or raise GDELT_QUERY_TIMEOUT_MS.`, { status: 503, retryable: true });
        throw e;
      } finally {
        clearTimeout(timer);
      }
    });
  }

  close() {
    return this.duck.close();
  }
}
