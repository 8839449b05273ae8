import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { DistinctCounter, HLL_SPARSE_LIMIT, QuantileSketch, QUANTILE_RELATIVE_ACCURACY } from '../../../src/features/streams/sketches.ts';

const exactQuantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))]!;

describe('QuantileSketch (DDSketch)', () => {
  test('percentiles are within the relative accuracy of the exact value, for any input', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0.001, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 2000 }), fc.constantFrom(0, 0.5, 0.9, 0.95, 0.99, 1), (xs, q) => {
        const s = new QuantileSketch();
        for (const x of xs) s.add(x);
        const exact = exactQuantile(xs, q);
        expect(Math.abs(s.quantile(q)! - exact)).toBeLessThanOrEqual(exact * QUANTILE_RELATIVE_ACCURACY * 1.0001);
      }),
    );
  });

  test('the sketch does not depend on the order values arrive in', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 500 }), (xs) => {
        const a = new QuantileSketch();
        const b = new QuantileSketch();
        xs.forEach((x) => a.add(x));
        [...xs].reverse().forEach((x) => b.add(x));
        for (const q of [0.5, 0.95, 0.99]) expect(a.quantile(q)).toBe(b.quantile(q));
      }),
    );
  });

  test('a serialised sketch comes back identical, and merging equals adding everything to one', () => {
    const a = new QuantileSketch();
    const b = new QuantileSketch();
    const all = new QuantileSketch();
    for (let i = 0; i < 1000; i++) {
      const x = (i * 7919) % 1013;
      (i % 2 ? a : b).add(x);
      all.add(x);
    }
    const back = QuantileSketch.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
    expect(back.toJSON()).toEqual(a.toJSON());
    back.merge(b);
    for (const q of [0, 0.5, 0.95, 1]) expect(back.quantile(q)).toBe(all.quantile(q));
  });

  test('an empty sketch has no percentile', () => {
    expect(new QuantileSketch().quantile(0.5)).toBeNull();
  });
});

describe('DistinctCounter (HyperLogLog)', () => {
  test('counts exactly while small', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 8 }), { maxLength: 600 }), (xs) => {
        const d = new DistinctCounter();
        xs.forEach((x) => d.add(x));
        expect(Math.abs(d.estimate() - new Set(xs).size)).toBeLessThanOrEqual(1);
      }),
      { numRuns: 50 },
    );
  });

  test.each([2_000, 20_000, 200_000])('estimates %d distinct values within 5%', (n) => {
    const d = new DistinctCounter();
    for (let i = 0; i < n; i++) d.add(`user-${i}`);
    expect(Math.abs(d.estimate() - n) / n).toBeLessThan(0.05);
  });

  test('merging and serialising keep the estimate, in sparse and dense form', () => {
    for (const n of [100, HLL_SPARSE_LIMIT * 5]) {
      const a = new DistinctCounter();
      const b = new DistinctCounter();
      const all = new DistinctCounter();
      for (let i = 0; i < n; i++) {
        (i % 3 ? a : b).add(i);
        all.add(i);
      }
      const back = DistinctCounter.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
      expect(back.estimate()).toBe(a.estimate());
      back.merge(b);
      expect(back.estimate()).toBe(all.estimate());
    }
  });
});
