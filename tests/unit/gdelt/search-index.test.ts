import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parquetKey } from '../../../src/features/gdelt/catalog.ts';
import { Indexer } from '../../../src/features/gdelt/indexer.ts';
import { FileLake } from '../../../src/features/gdelt/lake.ts';
import { describeCode, loadLookups } from '../../../src/features/gdelt/lookups.ts';
import { writeBatchParquet } from '../../../src/features/gdelt/parquet.ts';
import { docText, readIndexRows, SearchIndex, type IndexRow } from '../../../src/features/gdelt/search-index.ts';
import { search } from '../../../src/features/gdelt/search.ts';
import { ManualClock } from '../../../src/platform/clock.ts';
import { memoryLogger } from '../../../src/platform/log.ts';
import { FIXTURES, tempDir } from '../../helpers/index.ts';

const lookups = loadLookups();
const dir = tempDir('sillage-gdelt-index-unit-');
const BATCH = '20150218230000';
const csv = join(FIXTURES, `gdelt/events/v2-2015-02-18/${BATCH}.export.CSV`);
const lakeRoot = join(dir.path, 'lake');
const parquet = join(lakeRoot, parquetKey('events', BATCH));
let instance: DuckDBInstance;

beforeAll(async () => {
  mkdirSync(dirname(parquet), { recursive: true });
  instance = await DuckDBInstance.create(':memory:');
  await writeBatchParquet(await instance.connect(), { table: 'events', csvPath: csv, parquetPath: parquet });
});
afterAll(() => {
  instance.closeSync();
  dir[Symbol.dispose]();
});

const row = (over: Partial<Record<number, unknown>>): IndexRow => {
  const r: unknown[] = [0, 1, '2015-02-18', '1411', 3, 'US', 'POLICE', 'COP', 'PROTESTER', null, -6.5, -3.2, 4, 'Ferguson, Missouri, United States', 'http://www.example.com/news/2015/02/18/march-in-ferguson-12345678.html', 'Ferguson, Missouri, United States', 'St. Louis, Missouri, United States'];
  for (const [k, v] of Object.entries(over)) r[Number(k)] = v;
  return r as IndexRow;
};

test('the indexed text holds actor names, each place once, URL words without scheme, www or long ids, and the CAMEO descriptions of the code and its parents', () => {
  const text = docText(row({}), (c) => describeCode(lookups, c));
  const words = text.match(/[\p{L}\p{N}]+/gu)!;
  expect(words).toEqual(expect.arrayContaining(['POLICE', 'PROTESTER', 'Ferguson', 'Louis', 'example', 'news', '2015', 'march', 'html', 'PROTEST']));
  expect(words).not.toContain('http');
  expect(words).not.toContain('www');
  expect(words).not.toContain('12345678');
  // The action place equals the first actor's place: indexed once (Missouri: Ferguson's and St. Louis's).
  expect(words.filter((w) => w === 'Missouri')).toHaveLength(2);
  expect(text).toContain(describeCode(lookups, '1411'));
});

test('index rows stream from Parquet in chunks of at most 2,048 rows, in file order, every row once', async () => {
  const sizes: number[] = [];
  const firstRows: number[] = [];
  for await (const chunk of readIndexRows(await instance.connect(), parquet)) {
    sizes.push(chunk.length);
    firstRows.push(chunk[0]![0]);
    expect(chunk.every((r, i) => r[0] === chunk[0]![0] + i)).toBe(true);
  }
  expect(sizes).toEqual([2048, 2271 - 2048]);
  expect(firstRows).toEqual([0, 2048]);
});

test('a batch whose rows fail midway leaves nothing of it in the index, and indexes whole on the next attempt', async () => {
  const index = new SearchIndex(':memory:');
  async function* failing() {
    yield [row({ 0: 0, 1: 1 }), row({ 0: 1, 1: 2 })];
    throw new Error('the Parquet file went away');
  }
  await expect(index.addBatch(BATCH, failing(), lookups, '2026-11-23T00:00:00Z')).rejects.toThrow('went away');
  expect(index.isIndexed(BATCH)).toBe(false);
  expect(index.db.query('SELECT count(*) AS n FROM ev').get()).toEqual({ n: 0 });
  expect(await index.addBatch(BATCH, [[row({ 0: 0, 1: 1 }), row({ 0: 1, 1: 2 })]], lookups, '2026-11-23T00:00:00Z')).toEqual({ rows: 2, superseded: 0 });
  expect(search(index, lookups, { query: 'protest', limit: 10, offset: 0, sort: 'date' }).total).toBe(2);
  expect(await index.addBatch(BATCH, [[row({ 0: 5, 1: 9 })]], lookups, '2026-11-23T00:00:00Z')).toBeUndefined();
  index.close();
});

test('the index stage reports a batch it cannot read as failed and goes on with the next', async () => {
  const indexPath = join(dir.path, 'stage.db');
  const index = new SearchIndex(indexPath);
  const log = memoryLogger();
  const indexer = new Indexer({
    index,
    worker: { indexPath, readDirs: [lakeRoot], tmpDir: join(dir.path, 'tmp') },
    lake: new FileLake(lakeRoot),
    clock: new ManualClock(Date.parse('2026-11-23T00:00:00Z')),
    log,
  });
  try {
    indexer.add({ table: 'events', batch: '20150218221500', rows: 10, parquet_key: parquetKey('events', '20150218221500') });
    indexer.add({ table: 'events', batch: BATCH, rows: 2271, parquet_key: parquetKey('events', BATCH) });
    indexer.add({ table: 'mentions', batch: BATCH, rows: 8462, parquet_key: parquetKey('mentions', BATCH) });
    expect(indexer.pending).toBe(2);
    const failures = await indexer.drain();
    expect(failures).toEqual([{ batch: '20150218221500', message: expect.stringContaining('batch=20150218221500.parquet') }]);
    expect(index.indexedAt([BATCH, '20150218221500'])).toEqual(new Map([[BATCH, '2026-11-23T00:00:00.000Z']]));
    expect(search(index, lookups, { limit: 1, offset: 0, sort: 'date' }).total).toBe(2271);
    expect(log.lines.some((l) => l.level === 'error' && l.batch === '20150218221500')).toBe(true);
  } finally {
    await indexer.close();
    index.close();
  }
});

test('a newest-first text search walks the posting list backwards and stops at the limit instead of sorting every match', async () => {
  const index = new SearchIndex(':memory:');
  await index.addBatch(BATCH, readIndexRows(await instance.connect(), parquet), lookups, '2026-11-23T00:00:00Z');
  const statements: string[] = [];
  const query = index.db.query.bind(index.db);
  index.db.query = ((sql: string) => (statements.push(sql), query(sql))) as typeof index.db.query;
  const found = search(index, lookups, { query: 'protest', since: '2015-02-18', limit: 5, offset: 0, sort: 'date' });
  expect(found.items.map((e) => e.id)).toEqual([...found.items.map((e) => e.id)].sort((a, b) => b - a));
  const select = statements.find((s) => s.includes('LIMIT ? OFFSET ?'))!;
  const plan = (sql: string) => query(`EXPLAIN QUERY PLAN ${sql}`).all('"protest"', 0, 5, 0).map((r: any) => r.detail as string);
  expect(plan(select).join(' | ')).not.toContain('TEMP B-TREE');
  index.close();
});

test('an index stage that cannot open its index file reports every batch handed to it as failed, and does not hang', async () => {
  const indexPath = join(parquet, 'under-a-file', 'index.db');
  const index = new SearchIndex(':memory:');
  const indexer = new Indexer({
    index,
    worker: { indexPath, readDirs: [lakeRoot], tmpDir: join(dir.path, 'tmp') },
    lake: new FileLake(lakeRoot),
    clock: new ManualClock(0),
    log: memoryLogger(),
  });
  try {
    indexer.add({ table: 'events', batch: BATCH, rows: 2271, parquet_key: parquetKey('events', BATCH) });
    expect(await indexer.drain()).toEqual([{ batch: BATCH, message: expect.stringContaining('could not open the index') }]);
  } finally {
    await indexer.close();
    index.close();
  }
});
