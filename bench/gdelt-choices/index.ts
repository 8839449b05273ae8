/**
 * The two implementation choices the GDELT issue leaves to a benchmark, measured on the same input in one run:
 *   (a) unzip: fflate's JS inflate (unzipSync, streaming Unzip) vs Bun's native raw inflate (node:zlib, as
 *       src/features/gdelt/unzip.ts uses it; Bun.inflateSync beside it), on the fixture zips and a generated one;
 *   (b) CSV → ZSTD Parquet: DuckDB's COPY (src/features/gdelt/parquet.ts, as the pipeline runs it) vs a JS parse
 *       into apache-arrow columns written by parquet-wasm, batch file by batch file, alternating.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { makeData, makeVector, Table, tableToIPC, DateDay, Float64, Int32, Int64, TimestampMicrosecond, Utf8, type Vector } from 'apache-arrow';
import { inflateSync, Unzip, UnzipInflate, unzipSync } from 'fflate';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import zlib from 'node:zlib';
import * as pw from 'parquet-wasm/node';
import { ROW_GROUP_SIZE, writeBatchParquet } from '../../src/features/gdelt/parquet.ts';
import { EVENT_COLUMNS, type Column } from '../../src/features/gdelt/schema.ts';
import { unzipSingle } from '../../src/features/gdelt/unzip.ts';
import { ROOT } from '../../src/platform/context.ts';
import { buildIngestInput } from '../gdelt/index.ts';
import type { BenchModule, BenchResult } from '../lib.ts';

const ZIPS = resolve(ROOT, '../shared/fixtures/gdelt/events/v2-2015-02-18/zip');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

/** The one member's raw DEFLATE data (central directory → local header), to time inflaters without the container. */
function memberData(zip: Uint8Array): Uint8Array {
  const v = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  let eocd = zip.length - 22;
  while (eocd >= 0 && v.getUint32(eocd, true) !== 0x06054b50) eocd--;
  const cd = v.getUint32(eocd + 16, true);
  const compressed = v.getUint32(cd + 20, true);
  const local = v.getUint32(cd + 42, true);
  const start = local + 30 + v.getUint16(local + 26, true) + v.getUint16(local + 28, true);
  return zip.subarray(start, start + compressed);
}

/** fflate's streaming Unzip with its own JS inflate: the all-fflate way to stream a zip. */
function fflateStreaming(zip: Uint8Array): number {
  let bytes = 0;
  const u = new Unzip((file) => {
    file.ondata = (err, data) => {
      if (err) throw err;
      bytes += data.byteLength;
    };
    file.start();
  });
  u.register(UnzipInflate);
  for (let i = 0; i < zip.length; i += 1 << 16) u.push(zip.subarray(i, Math.min(zip.length, i + (1 << 16))), i + (1 << 16) >= zip.length);
  return bytes;
}

async function unzipChoices(zips: { name: string; bytes: Uint8Array }[], label: string, reps: number, tmp: string, log: (m: string) => void): Promise<BenchResult[]> {
  const inputs = zips.map((z) => z.bytes);
  const members = inputs.map(memberData);
  const outBytes = inputs.reduce((a, z) => a + Object.values(unzipSync(z))[0]!.byteLength, 0);
  // Bun.inflateSync is raw DEFLATE; check it reads zip members before timing it.
  const bunRaw = (() => {
    try {
      return Bun.inflateSync(members[0]! as Uint8Array<ArrayBuffer>).byteLength > 0;
    } catch {
      return false;
    }
  })();
  const zipDir = join(tmp, 'zips');
  mkdirSync(zipDir, { recursive: true });
  await Promise.all(zips.map((z, i) => Bun.write(join(zipDir, `${i}.zip`), z.bytes)));
  log(`unzip, ${label}: ${zips.length} zips, ${(inputs.reduce((a, z) => a + z.byteLength, 0) / 1e6).toFixed(1)} MB → ${(outBytes / 1e6).toFixed(1)} MB, ${reps} rounds`);
  const methods: Record<string, () => unknown> = {
    sync: () => inputs.forEach((z) => unzipSync(z)),
    stream: () => inputs.forEach(fflateStreaming),
    jsRaw: () => members.forEach((m) => inflateSync(m)),
    nativeRaw: () => members.forEach((m) => zlib.inflateRawSync(m)),
    ...(bunRaw ? { bun: () => members.forEach((m) => Bun.inflateSync(m as Uint8Array<ArrayBuffer>)) } : {}),
    // The pipeline's own function: streaming container, native inflate, CRC and size checks, written to a file.
    pipeline: async () => {
      for (let i = 0; i < zips.length; i++) await unzipSingle(join(zipDir, `${i}.zip`), join(tmp, `out-${i}.csv`));
    },
  };
  // Every method once per round, so a burst of load from other users of the CPU hits them all alike.
  const runs: Record<string, number[]> = Object.fromEntries(Object.keys(methods).map((k) => [k, []]));
  for (let r = 0; r < reps; r++) {
    for (const [k, fn] of Object.entries(methods)) {
      const t0 = performance.now();
      await fn();
      runs[k]!.push(outBytes / 1e6 / ((performance.now() - t0) / 1000));
    }
  }
  const m = (k: string) => (runs[k] ? median(runs[k]) : NaN);
  const ref = { name: 'fflate unzipSync', value: m('sync') };
  return [
    { name: `unzip: fflate unzipSync, in memory (${label})`, value: m('sync'), unit: 'MB/s', higherIsBetter: true, notes: 'JS inflate; issue reference ≈ 116 MB/s' },
    { name: `unzip: fflate streaming Unzip + UnzipInflate (${label})`, value: m('stream'), unit: 'MB/s', higherIsBetter: true, reference: ref },
    { name: `inflate: fflate inflateSync, member data only (${label})`, value: m('jsRaw'), unit: 'MB/s', higherIsBetter: true, reference: ref },
    { name: `inflate: Bun native zlib.inflateRawSync, member data only (${label})`, value: m('nativeRaw'), unit: 'MB/s', higherIsBetter: true, reference: ref, notes: 'issue reference ≈ 810 MB/s' },
    { name: `inflate: Bun.inflateSync, member data only (${label})`, value: m('bun'), unit: 'MB/s', higherIsBetter: true, reference: ref, notes: bunRaw ? '' : 'cannot read zip members' },
    { name: `unzip: pipeline unzipSingle, fflate container + native inflate to a file, CRC checked (${label})`, value: m('pipeline'), unit: 'MB/s', higherIsBetter: true, reference: ref },
  ];
}

const DAY_MS = 86_400_000;
const TAB = 9;
const LF = 10;

/** Digits of buf[s, e) as an integer (GDELT integers: optional minus sign, digits). */
function int(buf: Uint8Array, s: number, e: number): number {
  let neg = false;
  if (buf[s] === 45) (neg = true), s++;
  let v = 0;
  for (let i = s; i < e; i++) v = v * 10 + (buf[i]! - 48);
  return neg ? -v : v;
}

/** A decimal like -4.4776119402985 from buf[s, e); anything else (an exponent) through Number(). */
function float(buf: Uint8Array, s: number, e: number): number {
  const start = s;
  let neg = false;
  if (buf[s] === 45) (neg = true), s++;
  let whole = 0;
  let frac = 0;
  let scale = 1;
  let i = s;
  for (; i < e && buf[i] !== 46; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return Number(new TextDecoder().decode(buf.subarray(start, e)));
    whole = whole * 10 + d;
  }
  for (i++; i < e; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return Number(new TextDecoder().decode(buf.subarray(start, e)));
    frac = frac * 10 + d;
    scale *= 10;
  }
  const v = whole + frac / scale;
  return neg ? -v : v;
}

/**
 * A GDELT events CSV parsed in JS straight from its bytes into typed Arrow columns: field boundaries first, then
 * numbers into typed arrays and strings into UTF-8 value buffers with offsets (no JS string per field), each with
 * a validity bitmap; empty fields are NULL, as DuckDB reads them. The fastest way we found to feed parquet-wasm
 * (split('\t') into strings and Arrow's builders measured ≈ 3× slower). It does less than the DuckDB path: a row
 * with another field count is skipped, not quarantined with reasons, and bytes and values are not validated.
 */
function parseToArrow(buf: Uint8Array, columns: Column[]): Table {
  const nc = columns.length;
  let lines = 0;
  for (let i = 0; i < buf.length; i++) if (buf[i] === LF) lines++;
  if (buf.length && buf[buf.length - 1] !== LF) lines++;
  // starts[r * (nc + 1) + k] = first byte of field k of row r; the entry after the last field is its end + 1.
  const starts = new Int32Array((lines + 1) * (nc + 1));
  let n = 0;
  let k = 0;
  starts[0] = 0;
  for (let i = 0; i <= buf.length; i++) {
    const b = i < buf.length ? buf[i] : LF;
    if (b !== TAB && b !== LF) continue;
    if (b === TAB) {
      if (++k < nc) starts[n * (nc + 1) + k] = i + 1;
      continue;
    }
    if (i === buf.length && starts[n * (nc + 1)] === i) break;
    if (k === nc - 1) {
      starts[n * (nc + 1) + nc] = i + 1;
      n++;
    }
    k = 0;
    starts[n * (nc + 1)] = i + 1;
  }
  const vectors: Record<string, Vector> = {};
  columns.forEach((c, j) => {
    const at = (r: number) => r * (nc + 1) + j;
    const valid = new Uint8Array((n + 7) >> 3);
    let nulls = 0;
    const type =
      c.type === 'VARCHAR' ? new Utf8()
      : c.type === 'BIGINT' ? new Int64()
      : c.type === 'TIMESTAMP' ? new TimestampMicrosecond()
      : c.type === 'DOUBLE' ? new Float64()
      : c.type === 'DATE' ? new DateDay()
      : new Int32();
    if (c.type === 'VARCHAR') {
      let total = 0;
      for (let r = 0; r < n; r++) total += starts[at(r) + 1]! - 1 - starts[at(r)]!;
      const data = new Uint8Array(total);
      const offsets = new Int32Array(n + 1);
      let o = 0;
      for (let r = 0; r < n; r++) {
        const s = starts[at(r)]!;
        const e = starts[at(r) + 1]! - 1;
        if (e > s) {
          valid[r >> 3]! |= 1 << (r & 7);
          data.set(buf.subarray(s, e), o);
          o += e - s;
        } else nulls++;
        offsets[r + 1] = o;
      }
      vectors[c.name] = makeVector(makeData({ type: type as Utf8, length: n, nullCount: nulls, nullBitmap: valid, valueOffsets: offsets, data }));
      return;
    }
    const data = c.type === 'BIGINT' || c.type === 'TIMESTAMP' ? new BigInt64Array(n) : c.type === 'DOUBLE' ? new Float64Array(n) : new Int32Array(n);
    for (let r = 0; r < n; r++) {
      const s = starts[at(r)]!;
      const e = starts[at(r) + 1]! - 1;
      if (e <= s) {
        nulls++;
        continue;
      }
      valid[r >> 3]! |= 1 << (r & 7);
      if (c.type === 'BIGINT') (data as BigInt64Array)[r] = BigInt(int(buf, s, e));
      else if (c.type === 'TIMESTAMP')
        (data as BigInt64Array)[r] = BigInt(Date.UTC(int(buf, s, s + 4), int(buf, s + 4, s + 6) - 1, int(buf, s + 6, s + 8), int(buf, s + 8, s + 10), int(buf, s + 10, s + 12), int(buf, s + 12, s + 14))) * 1000n;
      else if (c.type === 'DATE') (data as Int32Array)[r] = Date.UTC(int(buf, s, s + 4), int(buf, s + 4, s + 6) - 1, int(buf, s + 6, s + 8)) / DAY_MS;
      else if (c.type === 'DOUBLE') (data as Float64Array)[r] = float(buf, s, e);
      else (data as Int32Array)[r] = int(buf, s, e);
    }
    vectors[c.name] = makeVector(makeData({ type, length: n, nullCount: nulls, nullBitmap: valid, data } as never));
  });
  return new Table(vectors);
}

const wasmProps = () => new pw.WriterPropertiesBuilder().setCompression(pw.Compression.ZSTD).setMaxRowGroupSize(ROW_GROUP_SIZE).build();

/** Writes an Arrow table as ZSTD Parquet with parquet-wasm (IPC stream into wasm memory, then the writer). */
async function writeWasm(table: Table, path: string) {
  const wasmTable = pw.Table.fromIPCStream(tableToIPC(table, 'stream'));
  await Bun.write(path, pw.writeParquet(wasmTable, wasmProps()));
}

/** Row count and a few sums over a Parquet file, so both writers are shown to hold the same data. */
async function fingerprint(c: DuckDBConnection, path: string): Promise<string> {
  const r = await c.runAndReadAll(
    `SELECT count(*), sum(GLOBALEVENTID), count(ActionGeo_Lat), round(sum(AvgTone), 3), min(SQLDATE)::VARCHAR, max(DATEADDED)::VARCHAR, count(Actor1Name), sum(length(SOURCEURL))
     FROM read_parquet($p)`,
    { p: path },
  );
  return JSON.stringify(r.getRows()[0], (_k, v) => (typeof v === 'bigint' ? String(v) : v));
}

async function parquetChoices(csvDir: string, outDir: string, log: (m: string) => void): Promise<BenchResult[]> {
  const files = readdirSync(csvDir).filter((f) => f.endsWith('.CSV')).sort();
  const instances = await Promise.all([1, 2].map((threads) => DuckDBInstance.create(':memory:', { threads: String(threads) })));
  const [one, two] = await Promise.all(instances.map((i) => i.connect()));
  const t = { duck1: 0, duck2: 0, wasmAll: 0, wasmWrite: 0, parse: 0 };
  const bytes = { duck: 0, wasm: 0 };
  let rows = 0;
  let mismatch = '';
  // Per batch file, the approaches alternate, so a burst of load from other users of the CPU hits all of them.
  for (const [k, f] of files.entries()) {
    const csv = join(csvDir, f);
    const duckOut = join(outDir, `${f}.duck.parquet`);
    let t0 = performance.now();
    rows += (await writeBatchParquet(one!, { table: 'events', csvPath: csv, parquetPath: duckOut })).rows;
    t.duck1 += performance.now() - t0;
    t0 = performance.now();
    await writeBatchParquet(two!, { table: 'events', csvPath: csv, parquetPath: join(outDir, `${f}.duck2.parquet`) });
    t.duck2 += performance.now() - t0;
    const wasmOut = join(outDir, `${f}.wasm.parquet`);
    t0 = performance.now();
    const table = parseToArrow(await Bun.file(csv).bytes(), EVENT_COLUMNS);
    const t1 = performance.now();
    await writeWasm(table, wasmOut);
    const t2 = performance.now();
    t.parse += t1 - t0;
    t.wasmWrite += t2 - t1;
    t.wasmAll += t2 - t0;
    bytes.duck += Bun.file(duckOut).size;
    bytes.wasm += Bun.file(wasmOut).size;
    if (k === 0) {
      const [a, b] = [await fingerprint(one!, duckOut), await fingerprint(one!, wasmOut)];
      if (a !== b) mismatch = `outputs differ: DuckDB ${a} vs parquet-wasm ${b}`;
    }
    log(`parquet: ${k + 1}/${files.length} files`);
    rmSync(join(outDir, `${f}.duck2.parquet`), { force: true });
  }
  for (const c of [one!, two!]) c.closeSync();
  for (const i of instances) i.closeSync();
  const rate = (ms: number) => rows / (ms / 1000);
  const ref = { name: 'DuckDB COPY, 1 thread', value: rate(t.duck1) };
  const size = (b: number) => `${(b / 1e6).toFixed(1)} MB of Parquet`;
  return [
    { name: `CSV → ZSTD Parquet: DuckDB COPY read_csv, 1 thread, as the pipeline runs it (${(rows / 1e6).toFixed(2)}M rows, ${files.length} files)`, value: rate(t.duck1), unit: 'rows/s', higherIsBetter: true, notes: size(bytes.duck) },
    { name: 'CSV → ZSTD Parquet: DuckDB COPY read_csv, 2 threads', value: rate(t.duck2), unit: 'rows/s', higherIsBetter: true, reference: ref },
    { name: 'CSV → ZSTD Parquet: JS parse → apache-arrow → parquet-wasm', value: rate(t.wasmAll), unit: 'rows/s', higherIsBetter: true, reference: ref, notes: `${size(bytes.wasm)}; ${mismatch || 'first file: same rows and sums as DuckDB'}` },
    { name: 'ZSTD Parquet write alone: parquet-wasm from a built Arrow table', value: rate(t.wasmWrite), unit: 'rows/s', higherIsBetter: true, reference: ref, notes: `JS parse into Arrow alone: ${Math.round(rate(t.parse)).toLocaleString('en-US')} rows/s` },
  ];
}

const bench: BenchModule = {
  name: 'gdelt-choices',
  description: 'GDELT implementation choices: fflate vs native inflate; DuckDB COPY vs parquet-wasm + apache-arrow for ZSTD Parquet',
  async run({ quick, log }) {
    const dir = mkdtempSync(join(tmpdir(), 'sillage-bench-gdelt-choices-'));
    try {
      const [batches, perBatch] = quick ? [4, 50_000] : [20, 50_000];
      log(`building ${(batches * perBatch).toLocaleString()} event rows as ${batches} CSV files and zips from the fixture rows`);
      const input = buildIngestInput(join(dir, 'input'), batches, perBatch, Date.UTC(2026, 0, 1));
      const fixtures = readdirSync(ZIPS).filter((f) => f.endsWith('.zip')).sort().map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(join(ZIPS, f))) }));
      const generated = readdirSync(input.zipDir).filter((f) => f.endsWith('.zip')).sort()[0]!;
      const results: BenchResult[] = [];
      mkdirSync(join(dir, 'unzip'));
      results.push(...(await unzipChoices(fixtures, 'the 8 fixture zips', quick ? 5 : 15, join(dir, 'unzip'), log)));
      const big = [{ name: generated, bytes: new Uint8Array(readFileSync(join(input.zipDir, generated))) }];
      results.push(...(await unzipChoices(big, `a generated ${perBatch.toLocaleString('en-US')}-row zip`, quick ? 3 : 7, join(dir, 'unzip'), log)));
      rmSync(input.zipDir, { recursive: true, force: true });
      mkdirSync(join(dir, 'parquet'));
      results.push(...(await parquetChoices(input.csvDir, join(dir, 'parquet'), log)));
      return results;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default bench;
