import type { Clock } from '../../platform/clock.ts';
import { compileExpression, type Row, type ValueType } from './filter.ts';
import type { ParsedRecord, Rejected } from './parse.ts';
import { DistinctCounter, QuantileSketch, type DistinctJson, type QuantileJson } from './sketches.ts';
import { fieldTypeOf, jobTimes, QUANTILES, valueTypeOf, type AggregateFn, type JobSpec, type JobTimes } from './spec.ts';
import { advanceWatermark, idleWatermark, isClosed, isDue, windowStarts } from './windows.ts';

/**
 * The engine's core: `aggregate(state, records, clock)` folds a batch of parsed records into the open windows
 * and returns what became visible (emitted results, retracted results, rejected records). It does no I/O and
 * depends only on its inputs and `clock.now()`, so it is tested on its own; it updates `state` in place because
 * copying thousands of windows per batch would cost more than the aggregation.
 *
 * Semantics (see windows.ts for the vocabulary):
 * - every record first passes the future check (event time > now + max_future → rejected `future_time`), then the
 *   filter; a record that matches is added to each of its windows that is not closed. If all are closed it is too
 *   late: counted and rejected `too_late`.
 * - the watermark follows every well-formed record (matching the filter or not), after the record is placed.
 *   Once the runner declares the topic's partitions (trackPartitions), it follows the slowest *active* partition
 *   instead, like Flink: a partition is active while it has unread records or delivered one within the idle
 *   timeout (a partition that never delivered only while it has unread records). Partitions read at different speeds (a backlog, a restart) then never make each other's records
 *   late, and a partition that went quiet stops holding the others back after the idle timeout.
 * - a window is emitted once when the watermark reaches its end, and again (revision + 1) each time a late record
 *   inside the allowed lateness changes it; its state is dropped when the watermark reaches end + lateness.
 * - session windows merge when a record bridges them; a merged-away result is retracted.
 */

export type WindowRef = { key: string; start: number };
export type WindowResult = {
  key: string;
  keyValues: Record<string, unknown>;
  start: number;
  end: number;
  values: Record<string, number | null>;
  /** Records (after the filter) that fell into the window. */
  records: number;
  /** 1 for the first emission, +1 for each late update. */
  revision: number;
  alerts: string[];
};
export type StepOutput = { emitted: WindowResult[]; retracted: WindowRef[]; rejected: Rejected[] };
export type Counters = { recordsIn: number; filtered: number; late: number; dlq: number; windowsEmitted: number };

type Accumulator = QuantileSketch | DistinctCounter;
type PartitionProgress = { partition: number; max: number; seenAtMs: number; lagging: boolean };
type KeyState = { key: string; kv: Record<string, unknown>; fixed?: Map<number, Win>; sessions?: Win[] };
type Win = {
  ks: KeyState;
  start: number;
  end: number;
  n: number;
  num: Float64Array;
  obj: Accumulator[];
  rev: number;
  /** Start under which the current result row was written; NaN before the first emission. */
  emittedStart: number;
  /** Has changes not yet emitted. */
  changed: boolean;
  /** In state.dirty (a flag is cheaper than a Set lookup on every record). */
  dirty: boolean;
  live: boolean;
};

type AggPlan = {
  name: string;
  fn: AggregateFn;
  add(w: Win, v: Row, t: number, p: number, o: number): void;
  merge(into: Win, from: Win): void;
  result(w: Win): number | null;
};

export type CompiledJob = {
  spec: JobSpec;
  times: JobTimes;
  filter?: (v: Row) => unknown;
  keyOf(v: Row): string;
  keyValues(v: Row): Record<string, unknown>;
  plans: AggPlan[];
  numTemplate: Float64Array;
  objFactories: (() => Accumulator)[];
  objRestore: ((j: unknown) => Accumulator)[];
  alerts: { name: string; test(values: Row): boolean }[];
};

const escapeKeyPart = (s: string) => (s.includes('|') || s.includes('%') ? s.replaceAll('%', '%25').replaceAll('|', '%7C') : s);

/** The key string of a record: the key field's value, several joined by "|" ("%" and "|" escaped), or "*". */
export function keyString(fields: string[], v: Row): string {
  if (fields.length === 0) return '*';
  if (fields.length === 1) return String(v[fields[0]!]);
  return fields.map((f) => escapeKeyPart(String(v[f]))).join('|');
}

/** Turns a validated spec into closures over slots, so the per-record path does no lookups by name. */
export function compileJob(spec: JobSpec): CompiledJob {
  const schema = spec.source.schema;
  const types: Record<string, ValueType> = Object.fromEntries(Object.entries(schema).map(([n, f]) => [n, valueTypeOf(fieldTypeOf(f))]));
  const expr = (text: string) => compileExpression(text, types).evaluate;
  const numeric = (text: string) => {
    const f = expr(text);
    return (v: Row): number | null => {
      const x = f(v);
      if (typeof x === 'number') return x === x ? x : null;
      if (typeof x === 'boolean') return x ? 1 : 0;
      return null;
    };
  };

  const numTemplate: number[] = [];
  const slot = (...init: number[]) => {
    const at = numTemplate.length;
    numTemplate.push(...init);
    return at;
  };
  const objFactories: (() => Accumulator)[] = [];
  const objRestore: ((j: unknown) => Accumulator)[] = [];
  const sketchSlots = new Map<string, number>();

  const plans: AggPlan[] = spec.aggregates.map((a): AggPlan => {
    const where = a.where === undefined ? undefined : expr(a.where);
    const guard = (add: AggPlan['add']): AggPlan['add'] => (where ? (w, v, t, p, o) => void (where(v) === true && add(w, v, t, p, o)) : add);
    // sum and avg keep the same two numbers (total, count or weight) and differ only in the result.
    const sumAndCount = (i: number, value: (v: Row) => number | null, weight?: (v: Row) => number | null): Pick<AggPlan, 'add' | 'merge'> => ({
      add: guard(
        weight
          ? (w, v) => {
              const x = value(v);
              const k = weight(v);
              if (x !== null && k !== null) {
                w.num[i]! += x * k;
                w.num[i + 1]! += k;
              }
            }
          : (w, v) => {
              const x = value(v);
              if (x !== null) {
                w.num[i]! += x;
                w.num[i + 1]!++;
              }
            },
      ),
      merge: (d, s) => {
        d.num[i]! += s.num[i]!;
        d.num[i + 1]! += s.num[i + 1]!;
      },
    });
    const base = { name: a.name, fn: a.fn };
    switch (a.fn) {
      case 'count': {
        const i = slot(0);
        const value = a.field === undefined ? undefined : expr(a.field);
        const add: AggPlan['add'] = value ? (w, v) => void (value(v) !== null && w.num[i]!++) : (w) => void w.num[i]!++;
        return { ...base, add: guard(add), merge: (d, s) => void (d.num[i]! += s.num[i]!), result: (w) => w.num[i]! };
      }
      case 'sum': {
        const i = slot(0, 0);
        return { ...base, ...sumAndCount(i, numeric(a.field!)), result: (w) => (w.num[i + 1] ? w.num[i]! : null) };
      }
      case 'min':
      case 'max': {
        const i = slot(NaN);
        const value = numeric(a.field!);
        const better = a.fn === 'min' ? (x: number, cur: number) => !(x >= cur) : (x: number, cur: number) => !(x <= cur);
        return {
          ...base,
          add: guard((w, v) => {
            const x = value(v);
            if (x !== null && better(x, w.num[i]!)) w.num[i] = x;
          }),
          merge: (d, s) => {
            const x = s.num[i]!;
            if (x === x && better(x, d.num[i]!)) d.num[i] = x;
          },
          result: (w) => (w.num[i] === w.num[i] ? w.num[i]! : null),
        };
      }
      case 'avg': {
        const i = slot(0, 0);
        const weight = a.weight === undefined ? undefined : numeric(a.weight);
        return { ...base, ...sumAndCount(i, numeric(a.field!), weight), result: (w) => (w.num[i + 1] ? w.num[i]! / w.num[i + 1]! : null) };
      }
      case 'first':
      case 'last': {
        // Earliest/latest by event time; ties go to the lower/higher (partition, offset), so the choice never
        // depends on arrival order.
        const i = slot(NaN, 0, 0, NaN);
        const value = numeric(a.field!);
        const sign = a.fn === 'first' ? 1 : -1;
        const wins = (num: Float64Array, t: number, p: number, o: number) => {
          const ct = num[i]!;
          if (ct !== ct) return true;
          const d = t - ct || p - num[i + 1]! || o - num[i + 2]!;
          return d * sign < 0;
        };
        return {
          ...base,
          add: guard((w, v, t, p, o) => {
            const x = value(v);
            if (x !== null && wins(w.num, t, p, o)) {
              w.num[i] = t;
              w.num[i + 1] = p;
              w.num[i + 2] = o;
              w.num[i + 3] = x;
            }
          }),
          merge: (d, s) => {
            if (s.num[i] === s.num[i] && wins(d.num, s.num[i]!, s.num[i + 1]!, s.num[i + 2]!)) for (let k = 0; k < 4; k++) d.num[i + k] = s.num[i + k]!;
          },
          result: (w) => (w.num[i] === w.num[i] ? w.num[i + 3]! : null),
        };
      }
      case 'count_distinct': {
        const j = objFactories.push(() => new DistinctCounter()) - 1;
        objRestore.push((x) => DistinctCounter.fromJSON(x as DistinctJson));
        const value = expr(a.field!);
        return {
          ...base,
          add: guard((w, v) => {
            const x = value(v);
            if (x !== null) (w.obj[j] as DistinctCounter).add(x);
          }),
          merge: () => {},
          result: (w) => (w.obj[j] as DistinctCounter).estimate(),
        };
      }
      default: {
        const q = QUANTILES[a.fn];
        // p50/p95/p99 of the same input share one sketch: it holds the whole distribution.
        const sharedBy = `${a.field}\u0000${a.where ?? ''}`;
        const existing = sketchSlots.get(sharedBy);
        const j = existing ?? objFactories.push(() => new QuantileSketch()) - 1;
        if (existing === undefined) {
          sketchSlots.set(sharedBy, j);
          objRestore.push((x) => QuantileSketch.fromJSON(x as QuantileJson));
        }
        const value = numeric(a.field!);
        const add: AggPlan['add'] =
          existing === undefined
            ? guard((w, v) => {
                const x = value(v);
                if (x !== null) (w.obj[j] as QuantileSketch).add(x);
              })
            : () => {};
        return { ...base, add, merge: () => {}, result: (w) => (w.obj[j] as QuantileSketch).quantile(q) };
      }
    }
  });

  const resultTypes: Record<string, ValueType> = Object.fromEntries([...spec.aggregates.map((a) => [a.name, 'number' as ValueType]), ['records', 'number']]);
  const key = spec.key;
  const filter = spec.filter === undefined ? undefined : expr(spec.filter);
  return {
    spec,
    times: jobTimes(spec),
    filter,
    keyOf: (v) => keyString(key, v),
    keyValues: (v) => Object.fromEntries(key.map((k) => [k, v[k]])),
    plans,
    numTemplate: Float64Array.from(numTemplate),
    objFactories,
    objRestore,
    alerts: spec.alerts.map((a) => {
      const f = compileExpression(a.when, resultTypes).evaluate;
      return { name: a.name, test: (values: Row) => f(values) === true };
    }),
  };
}

export type EngineState = {
  job: CompiledJob;
  /** -Infinity until the first record. */
  watermark: number;
  maxEventTime: number;
  /** Per-partition progress once trackPartitions was called; the active ones and the smallest of their maxima. */
  partitions?: Map<number, PartitionProgress>;
  active: PartitionProgress[];
  activeMin: number;
  /** Wall-clock time of the last batch that had records, for the idle watermark. */
  lastArrivalMs: number;
  keys: Map<string, KeyState>;
  open: number;
  /** Smallest end of a window not yet due, and smallest end + lateness: the watermark values worth a scan. */
  nextDue: number;
  nextClose: number;
  /** Windows changed while already due (late records, session merges): emitted at the end of the step. */
  late: Set<Win>;
  /** Windows changed since the last checkpoint, and state rows to delete. */
  dirty: Set<Win>;
  removed: Map<string, WindowRef>;
  counters: Counters;
};

export function createState(job: CompiledJob, clock: Clock): EngineState {
  return {
    job,
    watermark: -Infinity,
    maxEventTime: -Infinity,
    active: [],
    activeMin: -Infinity,
    lastArrivalMs: clock.now(),
    keys: new Map(),
    open: 0,
    nextDue: Infinity,
    nextClose: Infinity,
    late: new Set(),
    dirty: new Set(),
    removed: new Map(),
    counters: { recordsIn: 0, filtered: 0, late: 0, dlq: 0, windowsEmitted: 0 },
  };
}

const emptyOutput = (): StepOutput => ({ emitted: [], retracted: [], rejected: [] });
const refId = (key: string, start: number) => `${start}\u0000${key}`;

function newWin(state: EngineState, ks: KeyState, start: number, end: number): Win {
  const job = state.job;
  const w: Win = {
    ks,
    start,
    end,
    n: 0,
    num: job.numTemplate.slice(),
    obj: job.objFactories.map((f) => f()),
    rev: 0,
    emittedStart: NaN,
    changed: false,
    dirty: false,
    live: true,
  };
  state.open++;
  noteBounds(state, w);
  return w;
}

function noteBounds(state: EngineState, w: Win) {
  if (w.end < state.nextDue) state.nextDue = w.end;
  const close = w.end + state.job.times.latenessMs;
  if (close < state.nextClose) state.nextClose = close;
}

function markDirty(state: EngineState, w: Win) {
  if (!w.dirty) {
    w.dirty = true;
    state.dirty.add(w);
  }
}

function touch(state: EngineState, w: Win) {
  w.changed = true;
  markDirty(state, w);
  if (isDue(w.end, state.watermark)) state.late.add(w);
}

function keyState(state: EngineState, v: Row): KeyState {
  const job = state.job;
  const key = job.keyOf(v);
  let ks = state.keys.get(key);
  if (!ks) {
    ks = { key, kv: job.keyValues(v) };
    if (job.times.window.type === 'session') ks.sessions = [];
    else ks.fixed = new Map();
    state.keys.set(key, ks);
  }
  return ks;
}

function addRecord(state: EngineState, w: Win, r: ParsedRecord) {
  w.n++;
  const plans = state.job.plans;
  for (let i = 0; i < plans.length; i++) plans[i]!.add(w, r.v, r.t, r.p, r.o);
  touch(state, w);
}

const starts: number[] = [];

/** Adds a record to its open windows; false when every window it belongs to is closed (too late). */
function place(state: EngineState, r: ParsedRecord, out: StepOutput): boolean {
  const { window: def, latenessMs } = state.job.times;
  const W = state.watermark;
  if (def.type !== 'session') {
    const n = windowStarts(def, r.t, starts);
    let ks: KeyState | undefined;
    let placed = false;
    for (let i = 0; i < n; i++) {
      const s = starts[i]!;
      const e = s + def.sizeMs;
      if (isClosed(e, latenessMs, W)) continue;
      ks ??= keyState(state, r.v);
      let w = ks.fixed!.get(s);
      if (!w) {
        w = newWin(state, ks, s, e);
        ks.fixed!.set(s, w);
      }
      addRecord(state, w, r);
      placed = true;
    }
    return placed;
  }

  const cs = r.t;
  const ce = r.t + def.gapMs;
  if (isClosed(ce, latenessMs, W)) return false;
  const ks = keyState(state, r.v);
  const sessions = ks.sessions!;
  let target: Win | undefined;
  for (let i = 0; i < sessions.length; ) {
    const w = sessions[i]!;
    if (w.start < ce && cs < w.end) {
      if (!target) {
        target = w;
        i++;
        continue;
      }
      // The record bridges two sessions: fold the later one into the earlier.
      for (const p of state.job.plans) p.merge(target, w);
      for (let j = 0; j < w.obj.length; j++) mergeAccumulator(target.obj[j]!, w.obj[j]!);
      target.n += w.n;
      target.end = Math.max(target.end, w.end);
      if (w.rev > 0) out.retracted.push({ key: ks.key, start: w.emittedStart });
      drop(state, w);
      sessions.splice(i, 1);
      continue;
    }
    i++;
  }
  if (!target) {
    target = newWin(state, ks, cs, ce);
    const at = sessions.findIndex((w) => w.start > cs);
    sessions.splice(at < 0 ? sessions.length : at, 0, target);
  } else {
    if (cs < target.start) {
      state.removed.set(refId(ks.key, target.start), { key: ks.key, start: target.start });
      target.start = cs;
    }
    target.end = Math.max(target.end, ce);
    noteBounds(state, target);
  }
  addRecord(state, target, r);
  return true;
}

function mergeAccumulator(into: Accumulator, from: Accumulator) {
  if (into instanceof QuantileSketch) into.merge(from as QuantileSketch);
  else into.merge(from as DistinctCounter);
}

/** Forgets a window: it is closed, or merged into another session. */
function drop(state: EngineState, w: Win) {
  w.live = false;
  state.open--;
  w.dirty = false;
  state.dirty.delete(w);
  state.late.delete(w);
  state.removed.set(refId(w.ks.key, w.start), { key: w.ks.key, start: w.start });
}

function emit(state: EngineState, w: Win, out: StepOutput) {
  if (w.rev > 0 && w.emittedStart !== w.start) out.retracted.push({ key: w.ks.key, start: w.emittedStart });
  w.rev++;
  w.emittedStart = w.start;
  w.changed = false;
  markDirty(state, w);
  state.counters.windowsEmitted++;
  out.emitted.push(resultOf(state.job, w));
}

function resultOf(job: CompiledJob, w: Win): WindowResult {
  const values: Record<string, number | null> = {};
  for (const p of job.plans) values[p.name] = p.result(w);
  const alerts = job.alerts.length ? job.alerts.filter((a) => a.test({ ...values, records: w.n })).map((a) => a.name) : [];
  return { key: w.ks.key, keyValues: w.ks.kv, start: w.start, end: w.end, values, records: w.n, revision: w.rev, alerts };
}

/** Emits windows that became due and late updates; drops windows past their lateness. */
function settle(state: EngineState, out: StepOutput) {
  const W = state.watermark;
  const { latenessMs } = state.job.times;
  if (W >= state.nextDue || W >= state.nextClose) {
    let nextDue = Infinity;
    let nextClose = Infinity;
    const closed: Win[] = [];
    for (const ks of state.keys.values()) {
      for (const w of ks.fixed ? ks.fixed.values() : ks.sessions!) {
        if (isDue(w.end, W)) {
          if (w.changed) emit(state, w, out);
        } else if (w.end < nextDue) nextDue = w.end;
        if (isClosed(w.end, latenessMs, W)) closed.push(w);
        else if (w.end + latenessMs < nextClose) nextClose = w.end + latenessMs;
      }
    }
    for (const w of closed) {
      drop(state, w);
      const ks = w.ks;
      if (ks.fixed) ks.fixed.delete(w.start);
      else ks.sessions!.splice(ks.sessions!.indexOf(w), 1);
      if ((ks.fixed ? ks.fixed.size : ks.sessions!.length) === 0) state.keys.delete(ks.key);
    }
    state.nextDue = nextDue;
    state.nextClose = nextClose;
  }
  for (const w of state.late) if (w.live && w.changed) emit(state, w, out);
  state.late.clear();
}

/** Folds a batch of records into the state; see the module comment for the rules. */
export function aggregate(state: EngineState, records: readonly ParsedRecord[], clock: Clock): StepOutput {
  const out = emptyOutput();
  const job = state.job;
  const { delayMs, maxFutureMs } = job.times;
  const now = clock.now();
  const filter = job.filter;
  const c = state.counters;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    c.recordsIn++;
    if (r.t > now + maxFutureMs) {
      c.dlq++;
      out.rejected.push({ partition: r.p, offset: r.o, reason: 'future_time', detail: `event time ${new Date(r.t).toISOString()} is more than ${maxFutureMs} ms ahead of the clock (${new Date(now).toISOString()})`, eventTimeMs: r.t });
      continue;
    }
    if (filter && filter(r.v) !== true) c.filtered++;
    else if (!place(state, r, out)) {
      c.late++;
      c.dlq++;
      out.rejected.push({ partition: r.p, offset: r.o, reason: 'too_late', detail: `event time ${new Date(r.t).toISOString()} is past the allowed lateness (watermark ${new Date(state.watermark).toISOString()})`, eventTimeMs: r.t });
    }
    if (r.t > state.maxEventTime) state.maxEventTime = r.t;
    if (state.partitions) notePartition(state, r, now);
    state.watermark = advanceWatermark(state.watermark, state.partitions && state.active.length ? state.activeMin : state.maxEventTime, delayMs);
  }
  if (records.length) state.lastArrivalMs = now;
  settle(state, out);
  return out;
}

// A partition that never delivered and has nothing unread cannot hold old records we have not seen: it is not
// waited for (a topic with an empty partition would otherwise emit nothing for a whole idle timeout).
const isActive = (p: PartitionProgress, now: number, idleMs: number) => p.lagging || (p.max > -Infinity && now - p.seenAtMs < idleMs);

function refreshActive(state: EngineState, now: number) {
  const idleMs = state.job.times.idleTimeoutMs;
  state.active = [...state.partitions!.values()].filter((p) => isActive(p, now, idleMs));
  state.activeMin = state.active.reduce((m, p) => Math.min(m, p.max), Infinity);
}

function notePartition(state: EngineState, r: ParsedRecord, now: number) {
  let p = state.partitions!.get(r.p);
  if (!p) {
    p = { partition: r.p, max: -Infinity, seenAtMs: now, lagging: false };
    state.partitions!.set(r.p, p);
  }
  const wasActive = state.active.includes(p);
  const previous = p.max;
  p.seenAtMs = now;
  if (r.t > p.max) p.max = r.t;
  if (!wasActive) refreshActive(state, now);
  else if (previous <= state.activeMin && p.max > previous) state.activeMin = state.active.reduce((m, q) => Math.min(m, q.max), Infinity);
}

function followPartitions(state: EngineState, clock: Clock): StepOutput {
  refreshActive(state, clock.now());
  state.watermark = advanceWatermark(state.watermark, state.active.length ? state.activeMin : state.maxEventTime, state.job.times.delayMs);
  const out = emptyOutput();
  settle(state, out);
  return out;
}

/** Declares the topic's partitions: from then on the watermark follows the slowest active one (module comment). */
export function trackPartitions(state: EngineState, partitions: Iterable<number>, clock: Clock) {
  state.partitions ??= new Map();
  for (const partition of partitions)
    if (!state.partitions.has(partition)) state.partitions.set(partition, { partition, max: -Infinity, seenAtMs: clock.now(), lagging: false });
  refreshActive(state, clock.now());
}

/**
 * Marks the partitions known to have unread records: they hold the watermark back however long they have been
 * quiet. Moving past a partition that caught up can advance the watermark, so this may emit windows.
 */
export function setLaggingPartitions(state: EngineState, lagging: Iterable<number>, clock: Clock): StepOutput {
  if (!state.partitions) return emptyOutput();
  const set = new Set(lagging);
  for (const p of state.partitions.values()) p.lagging = set.has(p.partition);
  return followPartitions(state, clock);
}

/** Counts records rejected before the engine saw them (parse errors), so totals and checkpoints include them. */
export function countRejected(state: EngineState, n: number) {
  state.counters.recordsIn += n;
  state.counters.dlq += n;
}

/** Moves the watermark of a quiet source on (see idle_timeout) and emits what became due. */
export function tick(state: EngineState, clock: Clock): StepOutput {
  const out = state.partitions ? followPartitions(state, clock) : emptyOutput();
  const { delayMs, idleTimeoutMs } = state.job.times;
  const W = idleWatermark({ watermark: state.watermark, maxEventTimeMs: state.maxEventTime, delayMs, lastArrivalMs: state.lastArrivalMs, nowMs: clock.now(), idleTimeoutMs });
  if (W > state.watermark) {
    state.watermark = W;
    settle(state, out);
  }
  return out;
}

/** Current value of every open window (for inspection and tests; not emitted). */
export function openResults(state: EngineState): WindowResult[] {
  const out: WindowResult[] = [];
  for (const ks of state.keys.values()) for (const w of ks.fixed ? ks.fixed.values() : ks.sessions!) out.push(resultOf(state.job, w));
  return out;
}

export type WindowStateJson = {
  kv: Record<string, unknown>;
  end: number;
  n: number;
  num: (number | null)[];
  obj: unknown[];
  rev: number;
  es: number | null;
  ch: boolean;
};
export type WindowRow = { key: string; start: number; state: WindowStateJson };
export type CheckpointMeta = { watermark: number | null; maxEventTime: number | null; counters: Counters };
export type Checkpoint = { upserts: WindowRow[]; deletes: WindowRef[]; meta: CheckpointMeta };

const finiteOrNull = (x: number) => (Number.isFinite(x) ? x : null);

/**
 * What changed since the last checkpoint: window rows to write, rows to delete (apply deletes first: a session
 * can reappear under a deleted start) and the job-level numbers. Clears the change tracking.
 */
export function takeCheckpoint(state: EngineState): Checkpoint {
  const upserts: WindowRow[] = [];
  for (const w of state.dirty) {
    upserts.push({
      key: w.ks.key,
      start: w.start,
      state: { kv: w.ks.kv, end: w.end, n: w.n, num: Array.from(w.num, (x) => (x === x ? x : null)), obj: w.obj.map((o) => o.toJSON()), rev: w.rev, es: finiteOrNull(w.emittedStart), ch: w.changed },
    });
  }
  const deletes = [...state.removed.values()];
  for (const w of state.dirty) w.dirty = false;
  state.dirty.clear();
  state.removed.clear();
  return { upserts, deletes, meta: { watermark: finiteOrNull(state.watermark), maxEventTime: finiteOrNull(state.maxEventTime), counters: { ...state.counters } } };
}

/** Rebuilds the state a checkpoint describes; the next records continue exactly where it stopped. */
export function restoreState(job: CompiledJob, meta: CheckpointMeta, rows: readonly WindowRow[], clock: Clock): EngineState {
  const state = createState(job, clock);
  state.watermark = meta.watermark ?? -Infinity;
  state.maxEventTime = meta.maxEventTime ?? -Infinity;
  state.counters = { ...meta.counters };
  const session = job.times.window.type === 'session';
  for (const row of [...rows].sort((a, b) => a.start - b.start)) {
    let ks = state.keys.get(row.key);
    if (!ks) {
      ks = { key: row.key, kv: row.state.kv, ...(session ? { sessions: [] } : { fixed: new Map() }) };
      state.keys.set(row.key, ks);
    }
    const s = row.state;
    const w: Win = {
      ks,
      start: row.start,
      end: s.end,
      n: s.n,
      num: Float64Array.from(s.num, (x) => x ?? NaN),
      obj: s.obj.map((o, i) => job.objRestore[i]!(o)),
      rev: s.rev,
      emittedStart: s.es ?? NaN,
      changed: s.ch,
      dirty: false,
      live: true,
    };
    state.open++;
    if (session) ks.sessions!.push(w);
    else ks.fixed!.set(w.start, w);
  }
  state.nextDue = -Infinity;
  state.nextClose = -Infinity;
  return state;
}
