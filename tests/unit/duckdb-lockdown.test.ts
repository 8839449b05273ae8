import { afterAll, beforeAll, expect, test } from 'bun:test';
import { testApp, type TestApp } from '../helpers/index.ts';

let t: TestApp;
beforeAll(async () => (t = await testApp()));
afterAll(() => t.close());

test('the shared DuckDB answers queries but cannot read files, change its settings or install extensions', async () => {
  const duck = t.ctx.stores.duckdb;
  expect(await duck.all<{ x: number }>('SELECT 42 AS x')).toEqual([{ x: 42 }]);
  await expect(duck.all("SELECT * FROM read_csv('/etc/passwd')")).rejects.toThrow(/Permission Error/);
  await expect(duck.all('SET enable_external_access = true')).rejects.toThrow(/Cannot change configuration option/);
  await expect(duck.all('INSTALL httpfs')).rejects.toThrow();
});
