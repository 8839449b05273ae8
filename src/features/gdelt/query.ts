import { DuckDBListType, DuckDBVarCharType, listValue, type DuckDBValue } from '@duckdb/node-api';
import { mkdirSync } from 'node:fs';
import { AppError, errorMessage } from '../../platform/errors.ts';
import { openDuckDB, type DuckStore } from '../../platform/stores/duckdb.ts';
import type { Catalog } from './catalog.ts';
import { FileLake, S3Lake, type Lake, type LakeOptions } from './lake.ts';
import type { TableName } from './schema.ts';
import type { SearchIndex } from './search-index.ts';

const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;

export type QueryAccess = 'direct' | 'httpfs' | 'read-through cache';
type S3Settings = NonNullable<LakeOptions['s3']>;

/** The `s3://bucket/prefix/` every object of the lake is under. */
export const lakeRootUrl = (lake: { bucket: string; prefix: string }) => `s3://${lake.bucket}/${lake.prefix ? `${lake.prefix}/` : ''}`;

/**
 * The httpfs secret for the lake's bucket, from the service's S3_* settings (the ones Bun's client uses), scoped
 * to the lake's prefix. A custom endpoint (MinIO and the like) is addressed path-style, over TLS only if its URL
 * says https.
 */
export function s3SecretSql(lake: { bucket: string; prefix: string }, s3: S3Settings = {}): string {
  const fields = ['TYPE s3', 'PROVIDER config', `SCOPE ${quote(lakeRootUrl(lake))}`];
  if (s3.accessKeyId) fields.push(`KEY_ID ${quote(s3.accessKeyId)}`);
  if (s3.secretAccessKey) fields.push(`SECRET ${quote(s3.secretAccessKey)}`);
  if (s3.region) fields.push(`REGION ${quote(s3.region)}`);
  if (s3.endpoint) {
    const url = new URL(s3.endpoint);
    fields.push(`ENDPOINT ${quote(url.host)}`, `USE_SSL ${url.protocol === 'https:'}`, "URL_STYLE 'path'");
  }
  return `CREATE OR REPLACE SECRET lake_s3 (${fields.join(', ')})`;
}

const firstLine = (e: unknown) => errorMessage(e).split('\n')[0];

/**
 * DuckDB over the lake, for the API. Its own in-memory instance, locked down before the first query: no file
 * access outside the lake (or its local cache), no extension loading, configuration locked. Only parameterised
 * SQL reaches it, every query has a deadline (DuckDB is interrupted when it passes), and the files a query reads
 * come from the catalog, so a file that is not published is never read. An S3 lake is read with httpfs when the
 * extension loads and the bucket answers through it, otherwise through the lake's local read-through cache;
 * `queryAccess` and `httpfs` say which and why (shown in /health).
 */
export class LakeQuery {
  private constructor(
    readonly duck: DuckStore,
    private lake: Lake,
    private catalog: Catalog,
    private index: SearchIndex,
    private timeoutMs: number,
    readonly httpfs: string,
    /** Set when queries read the bucket through httpfs. */
    private remote: S3Lake | undefined,
  ) {}

  get queryAccess(): QueryAccess {
    return this.lake.kind === 'file' ? 'direct' : this.remote ? 'httpfs' : 'read-through cache';
  }

  static async open(options: { lake: Lake; catalog: Catalog; index: SearchIndex; cacheDir: string; tmpDir: string; timeoutMs: number; s3?: S3Settings }) {
    const duck = await openDuckDB({ path: ':memory:', settings: { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' } });
    const dir = options.lake instanceof FileLake ? options.lake.root : options.cacheDir;
    mkdirSync(dir, { recursive: true });
    // The cache stays allowed beside the bucket: a failed probe below falls back to it after the lock.
    const allowed = [dir + '/'];
    let httpfs = 'not needed (local lake)';
    let remote: S3Lake | undefined;
    if (options.lake instanceof S3Lake) {
      try {
        // Only an installed extension can load (auto-install is off); @duckdb/node-api does not bundle httpfs.
        await duck.run('LOAD httpfs');
        await duck.run(s3SecretSql(options.lake, options.s3));
        remote = options.lake;
        allowed.push(lakeRootUrl(options.lake));
      } catch (e) {
        httpfs = `not loadable (${firstLine(e)}); reading through the local cache`;
      }
    }
    for (const sql of [
      `SET allowed_directories = [${allowed.map(quote).join(', ')}]`,
      `SET temp_directory = ${quote(options.tmpDir)}`,
      'SET enable_external_access = false',
      'SET parquet_metadata_cache = true',
      "SET memory_limit = '1GB'",
      'SET lock_configuration = true',
    ])
      await duck.run(sql);
    if (remote) {
      // A loaded extension is no proof that the bucket answers with these settings: list the lake's batch
      // manifests once, as queries will see it, and fall back to the cache if that fails.
      try {
        await duck.all('SELECT count(*) AS n FROM glob($pattern)', { pattern: `${lakeRootUrl(remote)}_batches/*/*.json` });
        httpfs = 'loaded; queries read the bucket directly';
      } catch (e) {
        remote = undefined;
        httpfs = `loaded, but reading the bucket through it failed (${firstLine(e)}); reading through the local cache`;
      }
    }
    return new LakeQuery(duck, options.lake, options.catalog, options.index, options.timeoutMs, httpfs, remote);
  }

  /**
   * What DuckDB reads for the published files of a table in a time window: local paths (fetched into the cache
   * for an S3 lake without httpfs), or `s3://` URLs.
   */
  async files(table: TableName, fromMs?: number, toMs?: number): Promise<{ batch: string; path: string }[]> {
    const keys = this.catalog.keys(table, fromMs, toMs);
    const remote = this.remote;
    if (remote) return keys.map((k) => ({ batch: k.batch, path: remote.url(k.key) }));
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
