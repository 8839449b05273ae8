import { expect, test } from 'bun:test';
import { zipSync } from 'fflate';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSingle } from '../../../src/features/gdelt/unzip.ts';
import { tempDir } from '../../helpers/index.ts';
import { GDELT_ZIPS, fixtureCsv } from '../../helpers/gdelt.ts';

test("a GDELT zip unzips, streaming, to exactly GDELT's CSV", async () => {
  using dir = tempDir();
  const out = join(dir.path, 'out.csv');
  const r = await unzipSingle(join(GDELT_ZIPS, '20150218230000.export.CSV.zip'), out);
  expect(r).toEqual({ path: out, member: '20150218230000.export.CSV', bytes: 889502 });
  expect(Buffer.compare(readFileSync(out), fixtureCsv('20150218230000'))).toBe(0);
});

async function failure(zip: Uint8Array) {
  using dir = tempDir();
  const src = join(dir.path, 'in.zip');
  const out = join(dir.path, 'out.csv');
  writeFileSync(src, zip);
  const e = await unzipSingle(src, out).then(() => undefined, (err) => err);
  expect(existsSync(out)).toBe(false);
  return e as { code: string; message: string };
}

test('a truncated zip fails with zip_truncated and leaves no output', async () => {
  const whole = readFileSync(join(GDELT_ZIPS, '20150218230000.export.CSV.zip'));
  const e = await failure(whole.subarray(0, 100_000));
  expect(e.code).toBe('zip_truncated');
  expect(e.message).toContain('truncated');
});

test('a zip holding no file fails with zip_empty', async () => {
  const e = await failure(zipSync({}));
  expect(e.code).toBe('zip_empty');
});

test('a zip holding two files fails with zip_members', async () => {
  const e = await failure(zipSync({ 'a.CSV': new Uint8Array([1]), 'b.CSV': new Uint8Array([2]) }));
  expect(e.code).toBe('zip_members');
  expect(e.message).toContain('2 files');
});

test('a zip whose data is corrupt fails with zip_corrupt', async () => {
  const zip = zipSync({ 'x.CSV': new TextEncoder().encode('hello world '.repeat(1000)) }, { level: 6 });
  // Flip bytes in the middle of the deflate stream.
  for (let i = 60; i < 80; i++) zip[i] = 0xff;
  const e = await failure(zip);
  expect(e.code).toBe('zip_corrupt');
});
