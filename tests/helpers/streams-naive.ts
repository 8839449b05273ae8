import { expect } from 'bun:test';
import { keyString, type StepOutput } from '../../src/features/streams/aggregate.ts';
import { compileExpression, type Row, type ValueType } from '../../src/features/streams/filter.ts';
import type { ParsedRecord } from '../../src/features/streams/parse.ts';
import { HLL_SPARSE_LIMIT, QUANTILE_RELATIVE_ACCURACY } from '../../src/features/streams/sketches.ts';
import { fieldTypeOf, jobTimes, QUANTILES, valueTypeOf, type JobSpec } from '../../src/features/streams/spec.ts';

/**
 * The obvious, slow recomputation the engine is checked against: decide which records count (same lateness
 * rules, record by record), group them by key and window, and compute every aggregate exactly from the list of
 * values (sorting for percentiles, a Set for distinct counts).
 */
export type NaiveWindow = { key: string; start: number; end: number; records: number; values: Record<string, number | null> };

export function naiveResults(spec: JobSpec, records: readonly ParsedRecord[], options: { nowMs: number; lateness?: 'simulate' | 'ignore' }): Map<string, NaiveWindow> {
  const times = jobTimes(spec);
  const types: Record<string, ValueType> = Object.fromEntries(Object.entries(spec.source.schema).map(([n, f]) => [n, valueTypeOf(fieldTypeOf(f))]));
  const ev = (text: string) => compileExpression(text, types).evaluate;
  const filter = spec.filter ? ev(spec.filter) : () => true;
  const def = times.window;
  let watermark = -Infinity;
  const accepted: { r: ParsedRecord; start: number; end: number }[] = [];
  const sessionInput = new Map<string, ParsedRecord[]>();

  for (const r of records) {
    if (r.t > options.nowMs + times.maxFutureMs) continue;
    if (filter(r.v) === true) {
      if (def.type === 'session') {
        const closed = options.lateness !== 'ignore' && r.t + def.gapMs + times.latenessMs <= watermark;
        if (!closed) {
          const k = keyString(spec.key, r.v);
          sessionInput.set(k, [...(sessionInput.get(k) ?? []), r]);
        }
      } else {
        const slide = def.type === 'tumbling' ? def.sizeMs : def.slideMs;
        for (let k = Math.floor((r.t - def.sizeMs) / slide); k <= Math.floor(r.t / slide); k++) {
          const start = k * slide;
          const end = start + def.sizeMs;
          if (!(start <= r.t && r.t < end)) continue;
          if (options.lateness !== 'ignore' && end + times.latenessMs <= watermark) continue;
          accepted.push({ r, start, end });
        }
      }
    }
    watermark = Math.max(watermark, r.t - times.delayMs);
  }
  for (const list of sessionInput.values()) {
    const sorted = [...list].sort((a, b) => a.t - b.t);
    let start = NaN;
    let end = -Infinity;
    let members: ParsedRecord[] = [];
    const flush = () => members.forEach((r) => accepted.push({ r, start, end }));
    for (const r of sorted) {
      if (r.t >= end) {
        flush();
        members = [];
        start = r.t;
      }
      members.push(r);
      end = Math.max(end, r.t + (def as { gapMs: number }).gapMs);
    }
    flush();
  }

  const groups = new Map<string, { key: string; start: number; end: number; rs: ParsedRecord[] }>();
  for (const { r, start, end } of accepted) {
    const key = keyString(spec.key, r.v);
    const id = `${key}@${start}`;
    const g = groups.get(id) ?? { key, start, end, rs: [] };
    g.rs.push(r);
    groups.set(id, g);
  }

  const out = new Map<string, NaiveWindow>();
  for (const [id, g] of groups) {
    const values: Record<string, number | null> = {};
    for (const a of spec.aggregates) {
      const where = a.where ? ev(a.where) : () => true;
      const input = a.field ? ev(a.field) : () => 1;
      const weight = a.weight ? ev(a.weight) : () => 1;
      const num = (x: unknown) => (typeof x === 'boolean' ? (x ? 1 : 0) : (x as number | null));
      const xs = g.rs.filter((r) => where(r.v) === true).map((r) => ({ r, x: input(r.v), w: num(weight(r.v)) })).filter((e) => e.x !== null && e.w !== null);
      const nums = xs.map((e) => num(e.x)!);
      const byTime = [...xs].sort((a, b) => a.r.t - b.r.t || a.r.p - b.r.p || a.r.o - b.r.o);
      if (a.fn === 'count') values[a.name] = xs.length;
      else if (a.fn === 'sum') values[a.name] = nums.length ? nums.reduce((s, x) => s + x, 0) : null;
      else if (a.fn === 'min') values[a.name] = nums.length ? Math.min(...nums) : null;
      else if (a.fn === 'max') values[a.name] = nums.length ? Math.max(...nums) : null;
      else if (a.fn === 'avg') {
        const sw = xs.reduce((s, e) => s + e.w!, 0);
        values[a.name] = sw ? xs.reduce((s, e) => s + num(e.x)! * e.w!, 0) / sw : null;
      } else if (a.fn === 'first') values[a.name] = byTime.length ? num(byTime[0]!.x) : null;
      else if (a.fn === 'last') values[a.name] = byTime.length ? num(byTime.at(-1)!.x) : null;
      else if (a.fn === 'count_distinct') values[a.name] = new Set(xs.map((e) => String(e.x))).size;
      else {
        const sorted = [...nums].sort((x, y) => x - y);
        values[a.name] = sorted.length ? sorted[Math.floor(QUANTILES[a.fn] * (sorted.length - 1))]! : null;
      }
    }
    out.set(id, { key: g.key, start: g.start, end: g.end, records: g.rs.length, values });
  }
  return out;
}

/** Final value of every window from a sequence of engine steps: each step's retractions apply before its emissions. */
export function finalResults(steps: readonly StepOutput[]): Map<string, NaiveWindow> {
  const out = new Map<string, NaiveWindow>();
  for (const step of steps) {
    for (const r of step.retracted) out.delete(`${r.key}@${r.start}`);
    for (const r of step.emitted) out.set(`${r.key}@${r.start}`, { key: r.key, start: r.start, end: r.end, records: r.records, values: r.values });
  }
  return out;
}

const close = (a: number, b: number, rel: number) => Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b)) + 1e-9;

/** Exact for counts, min, max, first, last; 1e-9 relative for sums and averages; sketch accuracy for the rest. */
export function expectSameResults(spec: JobSpec, actual: Map<string, NaiveWindow>, expected: Map<string, NaiveWindow>) {
  const missing = [...expected.keys()].filter((k) => !actual.has(k));
  const extra = [...actual.keys()].filter((k) => !expected.has(k));
  expect({ missing: missing.slice(0, 5), extra: extra.slice(0, 5) }).toEqual({ missing: [], extra: [] });
  for (const [id, e] of expected) {
    const a = actual.get(id)!;
    const where = `window ${id}`;
    expect({ where, end: a.end, records: a.records }).toEqual({ where, end: e.end, records: e.records });
    for (const agg of spec.aggregates) {
      const x = a.values[agg.name] ?? null;
      const y = e.values[agg.name] ?? null;
      const label = `${where} ${agg.name} (${agg.fn}): got ${x}, expected ${y}`;
      if (x === null || y === null) {
        expect(label).toBe(`${where} ${agg.name} (${agg.fn}): got ${y}, expected ${y}`);
        continue;
      }
      const ok =
        agg.fn in QUANTILES
          ? close(x, y, QUANTILE_RELATIVE_ACCURACY * 1.0001)
          : agg.fn === 'count_distinct'
            ? y <= HLL_SPARSE_LIMIT
              ? Math.abs(x - y) <= 1
              : close(x, y, 0.06)
            : agg.fn === 'sum' || agg.fn === 'avg'
              ? close(x, y, 1e-9)
              : x === y;
      if (!ok) throw new Error(label);
    }
  }
}

export type { Row };
