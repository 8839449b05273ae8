import { afterAll, beforeAll, expect, test } from 'bun:test';
import type { DuckDBInstance } from '@duckdb/node-api';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBWarehouse } from '../../src/features/engagement/warehouse/duckdb.ts';
import { engagementEnvelope } from '../helpers/engagement.ts';
import { tempDir, testApp, type TestApp } from '../helpers/index.ts';

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

test('the DuckDB warehouse stores and reads its facts but cannot read other files, write outside its own, or change its settings', async () => {
  using dir = tempDir('sillage-wh-lockdown-');
  const path = join(dir.path, 'warehouse.duckdb');
  writeFileSync(join(dir.path, 'beside.csv'), 'a,b\n1,2\n');
  const warehouse = new DuckDBWarehouse({ path, flushRows: 10, flushIntervalMs: 5 });
  try {
    expect((await warehouse.write([1, 2, 3].map((n) => engagementEnvelope(n)))).applied).toHaveLength(3);
    const c = await (warehouse as unknown as { instance: DuckDBInstance }).instance.connect();
    try {
      expect((await c.runAndReadAll('SELECT count(*)::INT AS n FROM engagement_facts')).getRowObjectsJson()).toEqual([{ n: 3 }]);
      // Not even a file in its own directory: only the database, its WAL and its spill directory.
      for (const sql of ["SELECT * FROM read_csv('/etc/passwd')", `SELECT * FROM read_csv('${join(dir.path, 'beside.csv')}')`, `COPY engagement_facts TO '${join(dir.path, 'out.csv')}'`, `ATTACH '${join(dir.path, 'other.duckdb')}'`])
        await expect(c.run(sql)).rejects.toThrow(/Permission Error/);
      await expect(c.run('SET enable_external_access = true')).rejects.toThrow(/Cannot change configuration option/);
      await expect(c.run("SET allowed_directories = ['/']")).rejects.toThrow(/Cannot change configuration option/);
    } finally {
      c.closeSync();
    }
    expect(existsSync(join(dir.path, 'out.csv'))).toBe(false);
    await warehouse.close();
    // Reopened (as after an I/O error), the file still has its facts and the same restrictions.
    const again = new DuckDBWarehouse({ path, flushRows: 10, flushIntervalMs: 5 });
    expect((await again.write([3, 4].map((n) => engagementEnvelope(n)))).applied).toEqual(['engagement_events:4']);
    expect(await again.count()).toBe(4);
    await again.close();
  } finally {
    await warehouse.close();
  }
});
