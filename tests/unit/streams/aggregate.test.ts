import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { aggregate, compileJob, createState, openResults, restoreState, setLaggingPartitions, takeCheckpoint, tick, trackPartitions, type EngineState, type StepOutput, type WindowRow } from '../../../src/features/streams/aggregate.ts';
import type { ParsedRecord } from '../../../src/features/streams/parse.ts';
import { jobTimes, validateSpec, type JobSpecInput } from '../../../src/features/streams/spec.ts';
import { windowStarts } from '../../../src/features/streams/windows.ts';
import { ManualClock } from '../../../src/platform/clock.ts';
import { expectSameResults, finalResults, naiveResults } from '../../helpers/streams-naive.ts';

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
const S = 1000;
const MIN = 60 * S;

const base: JobSpecInput = {
  name: 'job',
  source: { topic: 't', schema: { ts: 'timestamp', k: 'string', x: 'number', u: 'string' } },
  time: { field: 'ts', watermark_delay: '0s', allowed_lateness: '0s' },
  key: ['k'],
  window: { type: 'tumbling', size: '1m' },
  aggregates: [
    { name: 'n', fn: 'count' },
    { name: 'total', fn: 'sum', field: 'x' },
    { name: 'lo', fn: 'min', field: 'x' },
    { name: 'hi', fn: 'max', field: 'x' },
  ],
};
const spec = (over: Partial<JobSpecInput> = {}) => validateSpec({ ...base, ...over, time: { ...base.time, ...over.time } });

let offset = 0;
const rec = (t: number, k: string, x: number, u = 'u1', p = 0): ParsedRecord => ({ t, v: { ts: t, k, x, u }, p, o: offset++ });

function engine(over: Partial<JobSpecInput> = {}, clock = new ManualClock(T0 + 10 * MIN)) {
  const s = spec(over);
  const state = createState(compileJob(s), clock);
  const steps: StepOutput[] = [];
  const feed = (...records: ParsedRecord[]) => {
    const out = aggregate(state, records, clock);
    steps.push(out);
    return out;
  };
  return { spec: s, state, clock, steps, feed };
}

describe('aggregate: tumbling windows', () => {
  test('a window is emitted once, when the watermark reaches its end', () => {
    const e = engine();
    expect(e.feed(rec(T0 + 1 * S, 'a', 5), rec(T0 + 30 * S, 'a', 7)).emitted).toEqual([]);
    const out = e.feed(rec(T0 + MIN, 'a', 1));
    expect(out.emitted).toEqual([
      { key: 'a', keyValues: { k: 'a' }, start: T0, end: T0 + MIN, values: { n: 2, total: 12, lo: 5, hi: 7 }, records: 2, revision: 1, alerts: [] },
    ]);
    expect(e.state.open).toBe(1);
  });

  test('a late record inside the allowed lateness updates the window and re-emits it as a new revision', () => {
    const e = engine({ time: { field: 'ts', allowed_lateness: '30s' } });
    e.feed(rec(T0 + 10 * S, 'a', 5), rec(T0 + MIN + 5 * S, 'a', 1));
    const out = e.feed(rec(T0 + 20 * S, 'a', 100));
    expect(out.emitted.map((r) => [r.start, r.revision, r.values.n, r.values.hi])).toEqual([[T0, 2, 2, 100]]);
    expect(e.state.counters.late).toBe(0);
  });

  test('a record later than the allowed lateness is counted and rejected as too_late', () => {
    const e = engine({ time: { field: 'ts', allowed_lateness: '30s' } });
    e.feed(rec(T0 + 10 * S, 'a', 5), rec(T0 + MIN + 31 * S, 'a', 1));
    const out = e.feed(rec(T0 + 20 * S, 'a', 100));
    expect(out.emitted).toEqual([]);
    expect(out.rejected).toMatchObject([{ reason: 'too_late', eventTimeMs: T0 + 20 * S }]);
    expect(e.state.counters).toMatchObject({ late: 1, dlq: 1, recordsIn: 3 });
  });

  test('out-of-order records inside the watermark delay are placed by event time, not arrival', () => {
    const e = engine({ time: { field: 'ts', watermark_delay: '10s' } });
    e.feed(rec(T0 + MIN + 5 * S, 'a', 1), rec(T0 + 50 * S, 'a', 2), rec(T0 + MIN + 1 * S, 'a', 3));
    const out = e.feed(rec(T0 + MIN + 11 * S, 'a', 0));
    expect(out.emitted.map((r) => [r.start, r.values.n, r.values.total])).toEqual([[T0, 1, 2]]);
    expect(openResults(e.state).map((r) => [r.start, r.values.n])).toEqual([[T0 + MIN, 3]]);
  });

  test('a record far in the future is rejected and does not move the watermark', () => {
    const clock = new ManualClock(T0);
    const e = engine({ time: { field: 'ts', max_future: '5m' } }, clock);
    const out = e.feed(rec(T0 + 6 * MIN, 'a', 1));
    expect(out.rejected).toMatchObject([{ reason: 'future_time' }]);
    expect(e.state.watermark).toBe(-Infinity);
    expect(e.feed(rec(T0 + 5 * MIN, 'a', 1)).rejected).toEqual([]);
  });

  test('the filter drops records but they still move the watermark', () => {
    const e = engine({ filter: 'x > 0' });
    e.feed(rec(T0, 'a', 1), rec(T0 + 1, 'a', -1));
    const out = e.feed(rec(T0 + MIN, 'b', -5));
    expect(e.state.counters.filtered).toBe(2);
    expect(out.emitted.map((r) => [r.key, r.values.n])).toEqual([['a', 1]]);
  });

  test('with partitions tracked, the watermark waits for partitions with unread records, so one read later is not late', () => {
    const e = engine({ time: { field: 'ts', idle_timeout: '10s' } });
    trackPartitions(e.state, [0, 1, 2], e.clock);
    setLaggingPartitions(e.state, [0, 1], e.clock);
    e.feed(rec(T0 + 5 * MIN, 'a', 1, 'u', 0));
    expect(e.state.watermark).toBe(-Infinity);
    const out = e.feed(rec(T0 + 10 * S, 'b', 1, 'u', 1));
    expect(out.rejected).toEqual([]);
    expect(e.state.watermark).toBe(T0 + 10 * S);
  });

  test('a partition that has been quiet for the idle timeout stops holding the watermark back, unless it is known to lag', () => {
    const e = engine({ time: { field: 'ts', idle_timeout: '10s' } });
    trackPartitions(e.state, [0, 1], e.clock);
    e.feed(rec(T0 + 10 * S, 'b', 1, 'u', 1), rec(T0 + 5 * MIN, 'a', 1, 'u', 0));
    expect(e.state.watermark).toBe(T0 + 10 * S);
    e.clock.advance(11 * S);
    expect(setLaggingPartitions(e.state, [1], e.clock).emitted).toEqual([]);
    expect(e.state.watermark).toBe(T0 + 10 * S);
    expect(setLaggingPartitions(e.state, [], e.clock).emitted.map((r) => r.key)).toEqual(['b']);
    expect(e.state.watermark).toBe(T0 + 5 * MIN);
  });

  test('an idle source closes its last window once the idle timeout has passed', () => {
    const clock = new ManualClock(T0 + 2 * MIN);
    const e = engine({ time: { field: 'ts', watermark_delay: '5s', idle_timeout: '10s' } }, clock);
    e.feed(rec(T0 + 40 * S, 'a', 1));
    clock.advance(9 * S);
    expect(tick(e.state, clock).emitted).toEqual([]);
    clock.advance(30 * S);
    expect(tick(e.state, clock).emitted.map((r) => r.start)).toEqual([T0]);
  });

  test('alerts are evaluated on each emitted result', () => {
    const e = engine({ alerts: [{ name: 'hot', when: 'hi > 50' }, { name: 'busy', when: 'records >= 2' }] });
    e.feed(rec(T0, 'a', 60), rec(T0, 'b', 10), rec(T0, 'b', 20));
    const out = e.feed(rec(T0 + MIN, 'z', 0));
    expect(Object.fromEntries(out.emitted.map((r) => [r.key, r.alerts]))).toEqual({ a: ['hot'], b: ['busy'] });
  });

  test('first and last follow event time, not arrival, with OHLC and VWAP', () => {
    const e = engine({
      source: { topic: 't', schema: { ts: 'timestamp', k: 'string', x: 'number', u: 'string', size: { type: 'integer', optional: true } } },
      time: { field: 'ts', watermark_delay: '1m' },
      aggregates: [
        { name: 'open', fn: 'first', field: 'x' },
        { name: 'close', fn: 'last', field: 'x' },
        { name: 'vwap', fn: 'avg', field: 'x', weight: 'size' },
      ],
    });
    const r = (t: number, x: number, size: number | null) => ({ ...rec(t, 'a', x), v: { ts: t, k: 'a', x, u: 'u', size } });
    e.feed(r(T0 + 30 * S, 11, 1), r(T0 + 1 * S, 10, 3), r(T0 + 59 * S, 12, null), r(T0 + 45 * S, 9, 1));
    const [w] = openResults(e.state);
    expect(w!.values).toEqual({ open: 10, close: 12, vwap: (10 * 3 + 11 + 9) / 5 });
  });
});

describe('aggregate: hopping and session windows', () => {
  test('a hopping record lands in every window that covers it', () => {
    const e = engine({ window: { type: 'hopping', size: '5m', slide: '1m' } });
    e.feed(rec(T0 + 30 * S, 'a', 1));
    expect(openResults(e.state).map((r) => r.start).sort()).toEqual([T0 - 4 * MIN, T0 - 3 * MIN, T0 - 2 * MIN, T0 - MIN, T0]);
  });

  test('a record that bridges two emitted sessions merges them and retracts the later one', () => {
    const e = engine({ window: { type: 'session', gap: '30s' }, time: { field: 'ts', allowed_lateness: '5m' } });
    e.feed(rec(T0, 'a', 1), rec(T0 + 50 * S, 'a', 2));
    e.feed(rec(T0 + 3 * MIN, 'a', 0));
    expect(e.steps.flatMap((s) => s.emitted).map((r) => [r.start, r.end])).toEqual([
      [T0, T0 + 30 * S],
      [T0 + 50 * S, T0 + 80 * S],
    ]);
    const merged = e.feed(rec(T0 + 25 * S, 'a', 3));
    expect(merged.retracted).toEqual([{ key: 'a', start: T0 + 50 * S }]);
    expect(merged.emitted.map((r) => [r.start, r.end, r.values.n, r.revision])).toEqual([[T0, T0 + 80 * S, 3, 2]]);
  });

  test('a session that grows backwards is re-keyed by its new start when it is next emitted', () => {
    const e = engine({ window: { type: 'session', gap: '30s' }, time: { field: 'ts', watermark_delay: '1m', allowed_lateness: '5m' } });
    e.feed(rec(T0 + 40 * S, 'a', 1), rec(T0 + 2 * MIN, 'b', 0));
    const first = e.feed(rec(T0 + 3 * MIN, 'b', 0));
    expect(first.emitted.filter((r) => r.key === 'a').map((r) => r.start)).toEqual([T0 + 40 * S]);
    const late = e.feed(rec(T0 + 20 * S, 'a', 2));
    expect(late.retracted).toEqual([{ key: 'a', start: T0 + 40 * S }]);
    expect(late.emitted.map((r) => [r.start, r.end, r.values.n])).toEqual([[T0 + 20 * S, T0 + 70 * S, 2]]);
  });
});

// ---------- property-based: the engine against a naive recomputation ----------

const SCHEMA = { ts: 'timestamp', k: 'string', x: 'number', u: 'string', ok: 'boolean' } as const;
const ALL_AGGREGATES: JobSpecInput['aggregates'] = [
  { name: 'n', fn: 'count' },
  { name: 'oks', fn: 'count', where: 'ok' },
  { name: 'total', fn: 'sum', field: 'x' },
  { name: 'lo', fn: 'min', field: 'x' },
  { name: 'hi', fn: 'max', field: 'x' },
  { name: 'mean', fn: 'avg', field: 'x' },
  { name: 'ok_rate', fn: 'avg', field: 'ok' },
  { name: 'open', fn: 'first', field: 'x' },
  { name: 'close', fn: 'last', field: 'x' },
  { name: 'users', fn: 'count_distinct', field: 'u' },
  { name: 'p50', fn: 'p50', field: 'x' },
  { name: 'p95', fn: 'p95', field: 'x' },
  { name: 'p99', fn: 'p99', field: 'x' },
];

const windowArb = fc.oneof(
  fc.integer({ min: 1, max: 5 }).map((m) => ({ type: 'tumbling' as const, size: `${m * 20}s` })),
  fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })).map(([slide, k]) => ({ type: 'hopping' as const, size: `${slide * k * 15}s`, slide: `${slide * 15}s` })),
);
const recordsArb = fc.array(
  fc.record({
    dt: fc.integer({ min: 0, max: 8 * MIN }),
    k: fc.constantFrom('a', 'b', 'c'),
    x: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.double({ min: 0.5, max: 1e4, noNaN: true })),
    u: fc.integer({ min: 0, max: 40 }).map((i) => `user${i}`),
    ok: fc.boolean(),
    p: fc.integer({ min: 0, max: 2 }),
  }),
  { minLength: 1, maxLength: 250 },
);
const toParsed = (rs: { dt: number; k: string; x: number; u: string; ok: boolean; p: number }[]): ParsedRecord[] =>
  rs.map((r, i) => ({ t: T0 + r.dt, v: { ts: T0 + r.dt, k: r.k, x: r.x, u: r.u, ok: r.ok }, p: r.p, o: i }));

/** Runs records through the engine in the given batch sizes, then lets the idle watermark close everything. */
function runAll(s: ReturnType<typeof validateSpec>, records: ParsedRecord[], batchSizes: number[], restoreAt?: number) {
  const clock = new ManualClock(T0 + 20 * MIN);
  let state: EngineState = createState(compileJob(s), clock);
  const steps: StepOutput[] = [];
  const rows = new Map<string, WindowRow>();
  let meta = takeCheckpoint(state).meta;
  let i = 0;
  let b = 0;
  while (i < records.length) {
    const size = batchSizes[b++ % batchSizes.length]!;
    steps.push(aggregate(state, records.slice(i, i + size), clock));
    i += size;
    if (restoreAt !== undefined && i >= restoreAt) {
      // A crash right after a checkpoint: rebuild the state only from what a checkpoint would have stored.
      const cp = takeCheckpoint(state);
      for (const d of cp.deletes) rows.delete(`${d.key}@${d.start}`);
      for (const u of cp.upserts) rows.set(`${u.key}@${u.start}`, JSON.parse(JSON.stringify(u)));
      meta = JSON.parse(JSON.stringify(cp.meta));
      state = restoreState(compileJob(s), meta, [...rows.values()], clock);
      restoreAt = undefined;
    }
  }
  clock.advance(24 * 60 * MIN);
  steps.push(tick(state, clock));
  return { steps, state };
}

describe('aggregate against a naive recomputation (property-based)', () => {
  test('fixed windows give exactly the naive results for any order, delay, lateness and batching', () => {
    fc.assert(
      fc.property(windowArb, recordsArb, fc.integer({ min: 0, max: 90 }), fc.integer({ min: 0, max: 120 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 5 }), (window, raw, delayS, latenessS, batches) => {
        const s = validateSpec({ name: 'p', source: { topic: 't', schema: SCHEMA }, time: { field: 'ts', watermark_delay: `${delayS}s`, allowed_lateness: `${latenessS}s`, idle_timeout: '1s' }, key: ['k'], window, aggregates: ALL_AGGREGATES });
        const records = toParsed(raw);
        const { steps, state } = runAll(s, records, batches);
        expectSameResults(s, finalResults(steps), naiveResults(s, records, { nowMs: T0 + 20 * MIN }));
        const expectedLate = records.length - countAccepted(s, records);
        expect(state.counters.late).toBe(expectedLate);
        expect(state.open).toBe(0);
      }),
      { numRuns: 150 },
    );
  });

  test('session windows give exactly the naive sessions when nothing is too late', () => {
    fc.assert(
      fc.property(fc.integer({ min: 5, max: 90 }), recordsArb, fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 5 }), (gapS, raw, batches) => {
        const s = validateSpec({ name: 'p', source: { topic: 't', schema: SCHEMA }, time: { field: 'ts', watermark_delay: '0s', allowed_lateness: '1h', idle_timeout: '1s' }, key: ['k'], window: { type: 'session', gap: `${gapS}s` }, aggregates: ALL_AGGREGATES });
        const records = toParsed(raw);
        const { steps } = runAll(s, records, batches);
        expectSameResults(s, finalResults(steps), naiveResults(s, records, { nowMs: T0 + 20 * MIN }));
      }),
      { numRuns: 150 },
    );
  });

  test('a restore from a checkpoint at any point gives results identical to an uninterrupted run', () => {
    fc.assert(
      fc.property(fc.oneof(windowArb, fc.constant({ type: 'session' as const, gap: '20s' })), recordsArb, fc.nat(), fc.integer({ min: 1, max: 30 }), (window, raw, cut, batch) => {
        const s = validateSpec({ name: 'p', source: { topic: 't', schema: SCHEMA }, time: { field: 'ts', watermark_delay: '20s', allowed_lateness: '40s', idle_timeout: '1s' }, key: ['k'], window, aggregates: ALL_AGGREGATES });
        const records = toParsed(raw);
        const whole = runAll(s, records, [batch]);
        const resumed = runAll(s, records, [batch], cut % records.length);
        expect(finalResults(resumed.steps)).toEqual(finalResults(whole.steps));
        expect(resumed.state.counters).toEqual(whole.state.counters);
      }),
      { numRuns: 150 },
    );
  });
});

/** Records the lateness rules accept into at least one window (the newest window of a record closes last). */
function countAccepted(s: ReturnType<typeof validateSpec>, records: ParsedRecord[]) {
  const { delayMs, latenessMs, window } = jobTimes(s);
  const def = window as Exclude<typeof window, { type: 'session' }>;
  let watermark = -Infinity;
  let accepted = 0;
  const starts: number[] = [];
  for (const r of records) {
    windowStarts(def, r.t, starts);
    if (starts[0]! + def.sizeMs + latenessMs > watermark) accepted++;
    watermark = Math.max(watermark, r.t - delayMs);
  }
  return accepted;
}
