import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeBatchParquet } from '../../../src/features/gdelt/parquet.ts';
import { tempDir } from '../../helpers/index.ts';
import { fixtureCsv } from '../../helpers/gdelt.ts';

let instance: DuckDBInstance;
let c: Awaited<ReturnType<DuckDBInstance['connect']>>;
beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  c = await instance.connect();
});
afterAll(() => {
  c.closeSync();
  instance.closeSync();
});

const lines = fixtureCsv('20150218230000').toString('latin1').split('\n').slice(0, 10);
const enc = (s: string) => Buffer.from(s, 'latin1');

async function convert(body: Buffer) {
  using dir = tempDir();
  const csv = join(dir.path, 'in.csv');
  const parquet = join(dir.path, 'out.parquet');
  writeFileSync(csv, body);
  const r = await writeBatchParquet(c, { table: 'events', csvPath: csv, parquetPath: parquet });
  const ids = (await c.runAndReadAll('SELECT GLOBALEVENTID::VARCHAR AS id FROM read_parquet($p) ORDER BY 1', { p: parquet })).getRowObjectsJson().map((r) => r.id);
  return { ...r, ids };
}

test('rows of 60 and 62 fields are quarantined with their line numbers; the others are written', async () => {
  const rows = [...lines];
  rows[1] = rows[1]!.split('\t').slice(0, 60).join('\t');
  rows[2] = rows[2]! + '\textra';
  const r = await convert(enc(rows.join('\n') + '\n'));
  expect(r.rows).toBe(8);
  expect(r.quarantined.map((q) => q.line)).toEqual([2, 3]);
  expect(r.quarantined[0]!.reasons[0]).toContain('Expected Number of Columns: 61 Found: 60');
  expect(r.quarantined[1]!.reasons[0]).toContain('Found: 62');
  expect(r.quarantined[1]!.raw).toStartWith('410412349\t');
});

test('a row with bytes that are not UTF-8 is quarantined, not loaded with mangled text', async () => {
  const rows = lines.map(enc);
  const f = lines[3]!.split('\t');
  f[6] = 'CAF\xe9 \xff';
  rows[3] = enc(f.join('\t'));
  const r = await convert(Buffer.concat(rows.flatMap((b) => [b, Buffer.from('\n')])));
  expect(r.rows).toBe(9);
  expect(r.quarantined).toHaveLength(1);
  expect(r.quarantined[0]!.line).toBe(4);
  expect(r.quarantined[0]!.reasons[0]).toContain('invalid encoding');
});

test('an id that is not a number or an impossible date is quarantined as a cast error', async () => {
  const rows = [...lines];
  const a = rows[4]!.split('\t');
  a[0] = 'abc';
  rows[4] = a.join('\t');
  const b = rows[5]!.split('\t');
  b[1] = '20151345';
  rows[5] = b.join('\t');
  const r = await convert(enc(rows.join('\n') + '\n'));
  expect(r.quarantined.map((q) => q.line)).toEqual([5, 6]);
  expect(r.quarantined[0]!.reasons[0]).toContain('GLOBALEVENTID');
  expect(r.quarantined[1]!.reasons[0]).toContain('SQLDATE');
  expect(r.rows).toBe(8);
});

test('typed columns come out typed: dates, timestamps, doubles, 64-bit ids', async () => {
  using dir = tempDir();
  const csv = join(dir.path, 'in.csv');
  const parquet = join(dir.path, 'out.parquet');
  writeFileSync(csv, lines.join('\n') + '\n');
  await writeBatchParquet(c, { table: 'events', csvPath: csv, parquetPath: parquet });
  const types = (await c.runAndReadAll("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet($p)) WHERE column_name IN ('GLOBALEVENTID','SQLDATE','DATEADDED','AvgTone','NumMentions','EventCode')", { p: parquet })).getRowObjectsJson();
  expect(Object.fromEntries(types.map((t) => [t.column_name, t.column_type]))).toEqual({
    GLOBALEVENTID: 'BIGINT', SQLDATE: 'DATE', EventCode: 'VARCHAR', NumMentions: 'INTEGER', AvgTone: 'DOUBLE', DATEADDED: 'TIMESTAMP',
  });
});
