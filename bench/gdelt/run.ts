/**
 * Child process of the GDELT benchmark, so each phase has its own peak RSS. Modes:
 *   ingest <dataDir> <baseUrl> <from> <to> [noindex]
 *                                               ingest a range through the real pipeline; prints timings (lake publish
 *                                               and end to end, i.e. until the index stage has caught up); `noindex`
 *                                               leaves the index stage out, to see what it costs the lake path
 *   native <csvDir> <outDir>                    DuckDB's own COPY read_csv → Parquet on the same CSVs
 *   index <dataDir>                             build the search index of a generated lake (the index stage catching up)
 *   query <dataDir> <rounds> <since> <rare>     p50/p95 of search and stats, and of the hand-typed SQL
 * Prints one JSON line.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FileLake } from '../../src/features/gdelt/lake.ts';
import { loadLookups } from '../../src/features/gdelt/lookups.ts';
import { writeBatchParquet } from '../../src/features/gdelt/parquet.ts';
import { LakeQuery } from '../../src/features/gdelt/query.ts';
import { openIngestEnv, paths, workLoop } from '../../src/features/gdelt/runner.ts';
import { search } from '../../src/features/gdelt/search.ts';
import { Indexer } from '../../src/features/gdelt/indexer.ts';
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

async function ingest(dataDir: string, baseUrl: string, from: string, to: string, noIndex = false) {
  const options = { dataDir, lake: { lakeUrl: `file://${join(dataDir, 'lake')}`, cacheDir: paths(dataDir).cache }, baseUrl, timeoutMs: 60_000, tables: ['events' as const], idleCheckMs: 50, leaseMs: 30_000 };
  const steps: Record<string, number> = {};
  const env = await openIngestEnv(options, { log, clock: systemClock });
  let lastPublishAt = 0;
  // The lake path alone: nothing is handed to the index stage.
  if (noIndex) env.indexer.add = () => {};
  env.onStep = (s, ms) => {
    steps[s] = (steps[s] ?? 0) + ms;
    if (s === 'publish') lastPublishAt = performance.now();
  };
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
  return { ms, publishedMs: lastPublishAt - t0, rows: done.rows, state: done.state, errors: done.errors.slice(0, 3), steps };
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

/** Builds the index of a generated lake the way a service rebuilds a lost one: the index stage catching up. */
async function index(dataDir: string) {
  const sqlite = openSqlite({ path: paths(dataDir).sqlite, migrationsDir: join(ROOT, 'db/sqlite') });
  const catalog = new Catalog(sqlite.db);
  const idx = new SearchIndex(paths(dataDir).index);
  const indexer = new Indexer({
    index: idx,
    worker: { indexPath: paths(dataDir).index, readDirs: [join(dataDir, 'lake')], tmpDir: paths(dataDir).tmp },
    lake: new FileLake(join(dataDir, 'lake')),
    clock: systemClock,
    log,
  });
  const t0 = performance.now();
  indexer.catchUp(catalog);
  const failures = await indexer.drain();
  const ms = performance.now() - t0;
  await indexer.close();
  if (failures.length) throw new Error(`indexing failed: ${JSON.stringify(failures.slice(0, 3))}`);
  const rows = idx.db.query<{ n: number }, []>('SELECT sum(rows) AS n FROM indexed_batches').get()!.n;
  idx.close();
  await sqlite.close();
  return { ms, rows };
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
  // Subject and reference alternate round by round, so a burst of load from other users of the CPU hits both.
  const timePair = async (subject: () => Promise<unknown> | unknown, reference: () => Promise<unknown> | unknown) => {
    for (let i = 0; i < 2; i++) await subject(), await reference();
    const xs: number[] = [];
    const ys: number[] = [];
    for (let i = 0; i < rounds; i++) {
      for (const [fn, out] of [[subject, xs], [reference, ys]] as const) {
        const t0 = performance.now();
        await fn();
        out.push(performance.now() - t0);
      }
    }
    return [{ p50: pct(xs, 0.5), p95: pct(xs, 0.95) }, { p50: pct(ys, 0.5), p95: pct(ys, 0.95) }] as const;
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
  const [search_protest, search_protest_ref] = await timePair(
    () => search(idx, lookups, { ...sp, query: 'protest' }),
    () => Promise.all([rc.runAndReadAll(ilike('protest', '14')), rc.runAndReadAll(ilikeCount('protest', '14'))]),
  );
  const [search_rare, search_rare_ref] = await timePair(
    () => search(idx, lookups, { ...sp, query: rare }),
    () => Promise.all([rc.runAndReadAll(ilike(rare)), rc.runAndReadAll(ilikeCount(rare))]),
  );
  const byDay = groupBy("strftime(DATEADDED, '%Y-%m-%d')");
  const [stats_day, stats_day_ref] = await timePair(() => stats(q, idx, lookups, { since, group_by: 'day' }), () => rc.runAndReadAll(byDay));
  const [stats_country, stats_country_ref] = await timePair(() => stats(q, idx, lookups, { since, group_by: 'country' }), () => rc.runAndReadAll(groupBy('ActionGeo_CountryCode')));
  // Duplicate event ids: 1,000 ids of the newest batch marked as superseded by a newer copy, so stats leave them
  // out of that one file (the other files are read as they are).
  const newest = allFiles.at(-1)!;
  const ids = (await rc.runAndReadAll(`SELECT GLOBALEVENTID::DOUBLE FROM read_parquet('${newest}') LIMIT 1000`)).getColumnsJS()[0] as number[];
  const batch = /batch=(\d{14})/.exec(newest)![1]!;
  idx.db.transaction(() => {
    for (const id of ids) idx.db.query('INSERT OR IGNORE INTO superseded (batch, id) VALUES (?, ?)').run(batch, id);
  })();
  const [stats_day_dups, stats_day_dups_ref] = await timePair(() => stats(q, idx, lookups, { since, group_by: 'day' }), () => rc.runAndReadAll(byDay));
  const results = { search_protest, search_protest_ref, search_rare, search_rare_ref, stats_day, stats_day_ref, stats_country, stats_country_ref, stats_day_dups, stats_day_dups_ref };
  return { results, totals: { protest: protest.total, rare: rareHits.total }, files: files.length, allFiles: allFiles.length };
}

const result =
  mode === 'ingest' ? await ingest(args[0]!, args[1]!, args[2]!, args[3]!, args[4] === 'noindex')
  : mode === 'native' ? await native(args[0]!, args[1]!)
  : mode === 'index' ? await index(args[0]!)
  : mode === 'query' ? await query(args[0]!, Number(args[1]), args[2]!, args[3]!)
  : (() => { throw new Error(`unknown mode ${mode}`); })();
console.log(JSON.stringify({ ...result, peakRssMb: await peakRssMb() }));
process.exit(0);
