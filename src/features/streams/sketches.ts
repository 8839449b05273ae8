import { DDSketch } from '@datadog/sketches-js';

/**
 * Mergeable, serialisable sketches for the aggregates that cannot be kept exactly in bounded memory.
 *
 * Both are order-independent: the same records give the same sketch whatever order or batches they arrive in.
 * That is what lets a job that crashed and resumed from a checkpoint produce results identical to one that never
 * stopped (a t-digest's centroids depend on insertion order; DDSketch's buckets and HLL's registers do not).
 */

/** Relative accuracy of percentiles: the reported p95 is within 1% of a value whose rank is exactly p95. */
export const QUANTILE_RELATIVE_ACCURACY = 0.01;

type StoreLike = { bins: number[]; offset: number; minKey: number; maxKey: number; count: number; add(key: number, weight?: number): void };
type StoreJson = [keys: number[], counts: number[]];
export type QuantileJson = { p: StoreJson; n: StoreJson; z: number; c: number; s: number; lo: number | null; hi: number | null };

/**
 * Percentiles with DDSketch (Datadog's @datadog/sketches-js): ~60 ns per value, relative-error guarantee, exact
 * merges. Serialised as its non-empty buckets (the library's own protobuf form needs protobufjs and drops min/max).
 */
export class QuantileSketch {
  private sketch = new DDSketch({ relativeAccuracy: QUANTILE_RELATIVE_ACCURACY });

  add(value: number) {
    this.sketch.accept(value);
  }

  merge(other: QuantileSketch) {
    this.sketch.merge(other.sketch);
  }

  get count() {
    return this.sketch.count;
  }

  /** The value at quantile q (0..1), or null when the sketch is empty. */
  quantile(q: number): number | null {
    if (this.sketch.count === 0) return null;
    const v = this.sketch.getValueAtQuantile(q);
    // Buckets are ±1% wide; clamping to what was seen keeps p0/p100 exact and never reports an impossible value.
    return Math.min(Math.max(v, this.sketch.min), this.sketch.max);
  }

  toJSON(): QuantileJson {
    const s = this.sketch;
    return { p: storeJson(s.store as unknown as StoreLike), n: storeJson(s.negativeStore as unknown as StoreLike), z: s.zeroCount, c: s.count, s: s.sum, lo: s.count ? s.min : null, hi: s.count ? s.max : null };
  }

  static fromJSON(j: QuantileJson): QuantileSketch {
    const q = new QuantileSketch();
    const s = q.sketch;
    restoreStore(s.store as unknown as StoreLike, j.p);
    restoreStore(s.negativeStore as unknown as StoreLike, j.n);
    s.zeroCount = j.z;
    s.count = j.c;
    s.sum = j.s;
    s.min = j.lo ?? Infinity;
    s.max = j.hi ?? -Infinity;
    return q;
  }
}

function storeJson(store: StoreLike): StoreJson {
  const keys: number[] = [];
  const counts: number[] = [];
  if (store.count === 0) return [keys, counts];
  for (let key = store.minKey; key <= store.maxKey; key++) {
    const c = store.bins[key - store.offset] ?? 0;
    if (c) {
      keys.push(key);
      counts.push(c);
    }
  }
  return [keys, counts];
}

function restoreStore(store: StoreLike, [keys, counts]: StoreJson) {
  for (let i = 0; i < keys.length; i++) store.add(keys[i]!, counts[i]!);
}

/** Registers of the dense HyperLogLog: 2^12 = 4096 one-byte registers, standard error 1.04/√4096 ≈ 1.6%. */
export const HLL_PRECISION = 12;
const M = 1 << HLL_PRECISION;
/** Below this many distinct hashes the counter keeps the hashes themselves and counts exactly. */
export const HLL_SPARSE_LIMIT = 1024;
const ALPHA = 0.7213 / (1 + 1.079 / M);

export type DistinctJson = { s: number[] } | { r: string };

/**
 * count_distinct: a HyperLogLog (Flajolet et al. 2007) over Bun's 32-bit murmur3 hash, with a sparse start:
 * up to 1,024 distinct values it stores their hashes and is exact (up to a 32-bit hash collision), then it
 * switches to 4,096 dense registers. Small windows (most of them) stay exact and small; large ones cost 4 KB.
 * About 60 lines on a hash Bun already ships, which is why it is not a dependency: the npm HyperLogLogs either pull
 * a dozen packages (bloom-filters) or a native hash module, and neither has the exact sparse mode.
 */
export class DistinctCounter {
  private sparse: Set<number> | undefined = new Set();
  private registers: Uint8Array | undefined;

  add(value: string | number | boolean) {
    this.addHash(Bun.hash.murmur32v3(String(value)) >>> 0);
  }

  private addHash(h: number) {
    if (this.sparse) {
      this.sparse.add(h);
      if (this.sparse.size > HLL_SPARSE_LIMIT) this.densify();
    } else this.insert(h);
  }

  private insert(h: number) {
    const regs = this.registers!;
    const idx = h >>> (32 - HLL_PRECISION);
    const rank = Math.min(Math.clz32((h << HLL_PRECISION) >>> 0) + 1, 32 - HLL_PRECISION + 1);
    if (rank > regs[idx]!) regs[idx] = rank;
  }

  private densify() {
    this.registers = new Uint8Array(M);
    for (const h of this.sparse!) this.insert(h);
    this.sparse = undefined;
  }

  merge(other: DistinctCounter) {
    if (other.sparse) {
      for (const h of other.sparse) this.addHash(h);
      return;
    }
    if (this.sparse) this.densify();
    const a = this.registers!;
    const b = other.registers!;
    for (let i = 0; i < M; i++) if (b[i]! > a[i]!) a[i] = b[i]!;
  }

  estimate(): number {
    if (this.sparse) return this.sparse.size;
    const regs = this.registers!;
    let sum = 0;
    let zeros = 0;
    for (let i = 0; i < M; i++) {
      sum += 2 ** -regs[i]!;
      if (regs[i] === 0) zeros++;
    }
    const raw = (ALPHA * M * M) / sum;
    if (raw <= 2.5 * M && zeros > 0) return Math.round(M * Math.log(M / zeros));
    const two32 = 2 ** 32;
    if (raw > two32 / 30) return Math.round(-two32 * Math.log(1 - raw / two32));
    return Math.round(raw);
  }

  toJSON(): DistinctJson {
    if (this.sparse) return { s: [...this.sparse].sort((a, b) => a - b) };
    return { r: Buffer.from(this.registers!).toString('base64') };
  }

  static fromJSON(j: DistinctJson): DistinctCounter {
    const d = new DistinctCounter();
    if ('s' in j) for (const h of j.s) d.sparse!.add(h);
    else {
      d.sparse = undefined;
      d.registers = new Uint8Array(Buffer.from(j.r, 'base64'));
    }
    return d;
  }
}
