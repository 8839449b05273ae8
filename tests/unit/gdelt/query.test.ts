import { afterAll, beforeAll, expect, test } from 'bun:test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Catalog } from '../../../src/features/gdelt/catalog.ts';
import { FileLake } from '../../../src/features/gdelt/lake.ts';
import { LakeQuery, s3SecretSql } from '../../../src/features/gdelt/query.ts';
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

test('a local lake is read directly, without httpfs', () => {
  expect(q.queryAccess).toBe('direct');
  expect(q.httpfs).toBe('not needed (local lake)');
});

test("the httpfs secret carries the service's S3 settings, scoped to the lake's prefix, quoted", () => {
  expect(s3SecretSql({ bucket: 'b', prefix: 'lake/gdelt' }, { endpoint: 'http://127.0.0.1:9000', region: 'eu-west-1', accessKeyId: 'key', secretAccessKey: "se'cret" })).toBe(
    "CREATE OR REPLACE SECRET lake_s3 (TYPE s3, PROVIDER config, SCOPE 's3://b/lake/gdelt/', KEY_ID 'key', SECRET 'se''cret', REGION 'eu-west-1', ENDPOINT '127.0.0.1:9000', USE_SSL false, URL_STYLE 'path')",
  );
  expect(s3SecretSql({ bucket: 'b', prefix: '' }, { endpoint: 'https://s3.example.com' })).toBe(
    "CREATE OR REPLACE SECRET lake_s3 (TYPE s3, PROVIDER config, SCOPE 's3://b/', ENDPOINT 's3.example.com', USE_SSL true, URL_STYLE 'path')",
  );
});
