import { afterAll, beforeAll, expect, test } from 'bun:test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Catalog } from '../../../src/features/gdelt/catalog.ts';
import { FileLake } from '../../../src/features/gdelt/lake.ts';
import { LakeQuery } from '../../../src/features/gdelt/query.ts';
import { SearchIndex } from '../../../src/features/gdelt/search-index.ts';
import { openSqlite } from '../../../src/platform/stores/sqlite.ts';
import { ROOT, tempDir } from '../../helpers/index.ts';

const dir = tempDir('sillage-gdelt-query-');
const lakeRoot = join(dir.path, 'lake');
const outside = join(dir.path, 'outside');
let q: LakeQuery;
let sqlite: ReturnType<typeof openSqlite>;
let index: SearchIndex;

beforeAll(async () => {
  mkdirSync(lakeRoot, { recursive: true });
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(outside, 'secret.csv'), 'a,b\n1,2\n');
  writeFileSync(join(lakeRoot, 'inside.csv'), 'a,b\n1,2\n');
  sqlite = openSqlite({ path: join(dir.path, 'sillage.db'), migrationsDir: join(ROOT, 'db/sqlite') });
  index = new SearchIndex(join(dir.path, 'index.db'));
  q = await LakeQuery.open({ lake: new FileLake(lakeRoot), catalog: new Catalog(sqlite.db), index, cacheDir: join(dir.path, 'cache'), tmpDir: join(dir.path, 'tmp'), timeoutMs: 50 });
});
afterAll(async () => {
  await q.close();
  index.close();
  await sqlite.close();
  dir[Symbol.dispose]();
});

test('the lake query engine reads files in the lake, and refuses a file outside it', async () => {
  expect(await q.all('SELECT count(*)::INTEGER AS n FROM read_csv($path)', { path: join(lakeRoot, 'inside.csv') }, {})).toEqual([{ n: 1 }]);
  await expect(q.all('SELECT * FROM read_csv($path)', { path: join(outside, 'secret.csv') }, {})).rejects.toThrow(/Permission Error/);
  await expect(q.all("SELECT * FROM read_csv('/etc/passwd')", {}, {})).rejects.toThrow(/Permission Error/);
});

test('its locked settings cannot be changed back, and extensions cannot be installed or loaded', async () => {
  for (const sql of [
    'SET enable_external_access = true',
    `SET allowed_directories = ['/']`,
    'SET lock_configuration = false',
    'SET autoload_known_extensions = true',
    'SET autoinstall_known_extensions = true',
  ])
    await expect(q.all(sql, {}, {})).rejects.toThrow(/Cannot change configuration option/);
  await expect(q.all('INSTALL httpfs', {}, {})).rejects.toThrow();
  await expect(q.all('LOAD httpfs', {}, {})).rejects.toThrow();
});

test('a query running past its deadline is interrupted and reported as a retryable 503 query_timeout', async () => {
  // Would run for hours: only the interrupt can end it.
  const endless = q.all('SELECT count(*) FROM range(1000000000000) WHERE hash(range) = 0', {}, {});
  await expect(endless).rejects.toMatchObject({ code: 'query_timeout', status: 503, retryable: true, message: expect.stringContaining('longer than 50 ms') });
  expect(await q.all('SELECT 1 AS one', {}, {})).toEqual([{ one: 1 }]);
});
