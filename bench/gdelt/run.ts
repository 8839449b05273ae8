/**
 * Child process of the GDELT benchmark, so each phase has its own peak RSS. Modes:
 *   ingest <dataDir> <baseUrl> <from> <to>      ingest a range through the real pipeline; prints timings
 *   native <csvDir> <outDir>                    DuckDB's own COPY read_csv → Parquet on the same CSVs
 *   index <dataDir>                             build the search index of a generated lake (ingest's index step)
 *   query <dataDir> <rounds> <since> <rare>     p50/p95 of search and stats, and of the hand-typed SQL
 * Prints one JSON line.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { indexRows } from '../../src/features/gdelt/ingest.ts';
import { FileLake } from '../../src/features/gdelt/lake.ts';
import { loadLookups } from '../../src/features/gdelt/lookups.ts';
import { writeBatchParquet } from '../../src/features/gdelt/parquet.ts';
import { LakeQuery } from '../../src/features/gdelt/query.ts';
import { openIngestEnv, paths, workLoop } from '../../src/features/gdelt/runner.ts';
import { search } from '../../src/features/gdelt/search.ts';
import { SearchIndex } from '../../src/features/gdelt/search-index.ts';
import { stats } from '../../src/features/gdelt/stats.ts';
import { Catalog } from '../../src/features/gdelt/catalog.ts';
import { openSqlite } from '../../src/platform/stores/sqlite.ts';
import { ROOT } from '../../src/platform/context.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { createLogger } from '../../src/platform/log.ts';
import { peakRssMb } from '../lib.ts';

const [mode, ...args] = process.argv.slice(2);
const log = createLogger({ level: 'warn', format: 'json', write: (l) => process.stderr.write(l + '\n') });

async function ingest(dataDir: string, baseUrl: string, from: string, to: string) {
  const options = { dataDir, lake: { lakeUrl: `file://${join(dataDir, 'lake')}`, cacheDir: paths(dataDir).cache }, baseUrl, timeoutMs: 60_000, tables: ['events' as const], idleCheckMs: 50, leaseMs: 30_000 };
  const steps: Record<string, number> = {};
  const env = await openIngestEnv(options, { log, clock: systemClock });
  env.onStep = (s, ms) => (steps[s] = (steps[s] ?? 0) + ms);
  const job = env.queue.enqueue('range', { from, to });
  const stop = new AbortController();
  const t0 = performance.now();
  const loop = workLoop(env, options, {
    signal: stop.signal,
    onJob: (j) => {
      if (j.job_id === job.job_id && (j.state === 'succeeded' || j.state === 'failed')) stop.abort();
    },
    waitForWake: (ms) => Bun.sleep(ms),
  });
  await loop;
  const ms = performance.now() - t0;
  const done = env.queue.get(job.job_id)!;
  await env.close();
  return { ms, rows: done.rows, state: done.state, errors: done.errors.slice(0, 3), steps };
}

async function native(csvDir: string, outDir: string) {
  const instance = await DuckDBInstance.create(':memory:');
  const c = await instance.connect();
  const files = readdirSync(csvDir).filter((f) => f.endsWith('.CSV')).sort();
  const t0 = performance.now();
  let rows = 0;
  for (const f of files) rows += (await writeBatchParquet(c, { table: 'events', csvPath: join(csvDir, f), parquetPath: join(outDir, `${f}.parquet`) })).rows;
  return { ms: performance.now() - t0, rows, files: files.length };
}

async function index(dataDir: string) {
  const sqlite = openSqlite({ path: paths(dataDir).sqlite, migrationsDir: join(ROOT, 'db/sqlite') });
  const catalog = new Catalog(sqlite.db);
  const idx = new SearchIndex(paths(dataDir).index);
  const lookups = loadLookups();
  const instance = await DuckDBInstance.create(':memory:');
  const c = await instance.connect();
  const t0 = performance.now();
  let rows = 0;
  for (const k of catalog.keys('events')) {
    const r = idx.addBatch(k.batch, await indexRows(c, join(dataDir, 'lake', k.key)), lookups, new Date().toISOString());
    rows += r.rows;
  }
  return { ms: performance.now() - t0, rows };
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;

async function query(dataDir: string, rounds: number, since: string, rare: string) {
  const sqlite = openSqlite({ path: paths(dataDir).sqlite, migrationsDir: join(ROOT, 'db/sqlite') });
  const catalog = new Catalog(sqlite.db);
  const idx = new SearchIndex(paths(dataDir).index);
  const lookups = loadLookups();
  const lake = new FileLake(join(dataDir, 'lake'));
  const q = await LakeQuery.open({ lake, catalog, index: idx, cacheDir: paths(dataDir).cache, tmpDir: paths(dataDir).tmp, timeoutMs: 120_000 });
  const ref = await DuckDBInstance.create(':memory:');
  const rc = await ref.connect();
  const sinceMs = Date.parse(`${since}T00:00:00Z`);
  const files = (await q.files('events', sinceMs)).map((f) => f.path);
  const allFiles = (await q.files('events')).map((f) => f.path);
  const list = `[${files.map((f) => `'${f}'`).join(', ')}]`;
  const time = async (fn: () => Promise<unknown> | unknown) => {
    for (let i = 0; i < 2; i++) await fn();
    const xs: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      await fn();
      xs.push(performance.now() - t0);
    }
    return { p50: pct(xs, 0.5), p95: pct(xs, 0.95) };
  };
  const ilike = (term: string, code?: string) =>
    `SELECT GLOBALEVENTID, SQLDATE, DATEADDED, Actor1Name, Actor2Name, EventCode, GoldsteinScale, AvgTone, NumMentions, ActionGeo_FullName, SOURCEURL
     FROM read_parquet(${list}) WHERE DATEADDED >= TIMESTAMP '${since}' AND (Actor1Name ILIKE '%${term}%' OR Actor2Name ILIKE '%${term}%' OR SOURCEURL ILIKE '%${term}%'${code ? ` OR EventRootCode = '${code}'` : ''})
     ORDER BY DATEADDED DESC LIMIT 50`;
  const ilikeCount = (term: string, code?: string) =>
    `SELECT count(*) FROM read_parquet(${list}) WHERE DATEADDED >= TIMESTAMP '${since}' AND (Actor1Name ILIKE '%${term}%' OR Actor2Name ILIKE '%${term}%' OR SOURCEURL ILIKE '%${term}%'${code ? ` OR EventRootCode = '${code}'` : ''})`;
  const groupBy = (key: string) =>
    `SELECT ${key} AS k, count(*), avg(AvgTone), avg(GoldsteinScale) FROM read_parquet(${list}) WHERE DATEADDED >= TIMESTAMP '${since}' GROUP BY ALL ORDER BY 1`;
  const sp = { limit: 50, offset: 0, sort: 'date' as const, since };
  const protest = search(idx, lookups, { ...sp, query: 'protest' });
  const rareHits = search(idx, lookups, { ...sp, query: rare });
  const results = {
    search_protest: await time(() => search(idx, lookups, { ...sp, query: 'protest' })),
    search_protest_ref: await time(async () => Promise.all([rc.runAndReadAll(ilike('protest', '14')), rc.runAndReadAll(ilikeCount('protest', '14'))])),
    search_rare: await time(() => search(idx, lookups, { ...sp, query: rare })),
    search_rare_ref: await time(async () => Promise.all([rc.runAndReadAll(ilike(rare)), rc.runAndReadAll(ilikeCount(rare))])),
    stats_day: await time(() => stats(q, idx, lookups, { since, group_by: 'day' })),
    stats_day_ref: await time(() => rc.runAndReadAll(groupBy("strftime(DATEADDED, '%Y-%m-%d')"))),
    stats_country: await time(() => stats(q, idx, lookups, { since, group_by: 'country' })),
    stats_country_ref: await time(() => rc.runAndReadAll(groupBy('ActionGeo_CountryCode'))),
  };
  return { results, totals: { protest: protest.total, rare: rareHits.total }, files: files.length, allFiles: allFiles.length };
}

const result =
  mode === 'ingest' ? await ingest(args[0]!, args[1]!, args[2]!, args[3]!)
  : mode === 'native' ? await native(args[0]!, args[1]!)
  : mode === 'index' ? await index(args[0]!)
  : mode === 'query' ? await query(args[0]!, Number(args[1]), args[2]!, args[3]!)
  : (() => { throw new Error(`unknown mode ${mode}`); })();
console.log(JSON.stringify({ ...result, peakRssMb: await peakRssMb() }));
process.exit(0);
