import { describe, expect, test } from 'bun:test';
import type { Clock } from '../../src/platform/clock.ts';
import { terminal, transient } from '../../src/platform/errors.ts';
import { memoryLogger } from '../../src/platform/log.ts';
import { deliverThenCommit } from '../../src/platform/stream/ack.ts';
import type { DeadLetter } from '../../src/platform/stream/dlq.ts';
import { FanOut } from '../../src/platform/stream/fanout.ts';
import type { Sink, SinkResult } from '../../src/platform/stream/sink.ts';
import type { SourceBatch } from '../../src/platform/stream/source.ts';
import type { Envelope } from '../../src/platform/stream/types.ts';

/** A clock whose sleeps pass at once (and are recorded), so retry paths run without waiting. */
function fastClock() {
  let t = 0;
  const sleeps: number[] = [];
  const clock: Clock = {
    now: () => t,
    sleep: async (ms, signal) => {
      if (signal?.aborted) throw signal.reason;
      sleeps.push(ms);
      t += ms;
    },
  };
  return { clock, sleeps };
}

const env = (id: string): Envelope<string> => ({ id, value: id, record: { topic: 'events', partition: 0, offset: id, key: null, value: Buffer.from(id), headers: {}, timestampMs: 0 } });

/** A sink that remembers what it applied and answers each write with the next scripted behaviour. */
function scriptedSink(name: string, script: ((batch: Envelope<string>[]) => SinkResult | Error)[] = []) {
  const applied = new Set<string>();
  const calls: string[][] = [];
  const sink: Sink<string> & { applied: Set<string>; calls: string[][] } = {
    name,
    applied,
    calls,
    async write(batch) {
      calls.push(batch.map((e) => e.id));
      const step = script.shift();
      const out = step ? step(batch) : undefined;
      if (out instanceof Error) throw out;
      if (out) return out;
      const result: SinkResult = { applied: [], duplicates: [], failed: [] };
      for (const e of batch) (applied.has(e.id) ? result.duplicates : result.applied).push(e.id), applied.add(e.id);
      return result;
    },
    close: async () => {},
  };
  return sink;
}

function trackingBatch(ids: string[]) {
  const state = { committed: false };
  const batch: SourceBatch = { lane: 'events/0', records: ids.map((id) => env(id).record), commit: async () => void (state.committed = true) };
  return { batch, state };
}

function collectingDlq() {
  const letters: DeadLetter[] = [];
  return { letters, publisher: { publish: async (l: DeadLetter[]) => void letters.push(...l) } };
}

describe('fan-out and commit', () => {
  test('every sink gets the batch and the batch is committed only after all of them acknowledged', async () => {
    const { clock } = fastClock();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = scriptedSink('slow');
    const slowWrite = slow.write.bind(slow);
    slow.write = async (b) => {
      await gate;
      return slowWrite(b);
    };
    const fast = scriptedSink('fast');
    const fanOut = new FanOut({ sinks: [{ sink: fast }, { sink: slow }], clock, log: memoryLogger() });
    const { batch, state } = trackingBatch(['a', 'b']);
    const dlq = collectingDlq();
    const done = deliverThenCommit({ batch, envelopes: ['a', 'b'].map(env), rejected: [], fanOut, deadLetters: dlq.publisher });
    await Bun.sleep(0);
    expect(fast.applied.size).toBe(2);
    expect(state.committed).toBe(false);
    release();
    const settled = await done;
    expect(state.committed).toBe(true);
    expect(settled.perSink.fast!.applied).toBe(2);
    expect(settled.perSink.slow!.applied).toBe(2);
  });

  test('an id repeated inside one batch reaches each sink once', async () => {
    const sink = scriptedSink('s');
    const fanOut = new FanOut({ sinks: [{ sink }], clock: fastClock().clock, log: memoryLogger() });
    const d = await fanOut.deliver(['a', 'b', 'a'].map(env));
    expect(sink.calls).toEqual([['a', 'b']]);
    expect(d.repeatedInBatch).toBe(1);
  });

  test('a transient failure is retried with backoff until the sink applies the rest', async () => {
    const { clock, sleeps } = fastClock();
    const sink = scriptedSink('s', [
      () => transient('down', 'store is restarting'),
      (b) => ({ applied: [b[0]!.id], duplicates: [], failed: [{ id: b[1]!.id, error: transient('busy', 'busy') }] }),
    ]);
    const fanOut = new FanOut({ sinks: [{ sink, policy: { retries: 5, baseDelayMs: 100, maxDelayMs: 1000 } }], clock, log: memoryLogger(), random: () => 1 });
    const d = await fanOut.deliver(['a', 'b'].map(env));
    expect(sink.calls).toEqual([['a', 'b'], ['a', 'b'], ['b']]);
    expect(sleeps).toEqual([100, 200]);
    expect(d.perSink.s).toMatchObject({ applied: 1 + 1, attempts: 3, deadLettered: 0 });
    expect(d.deadLetters).toEqual([]);
  });

  test('a terminal failure dead-letters that envelope at once with the sink, reason and attempts; the batch still commits', async () => {
    const sink = scriptedSink('warehouse', [(b) => ({ applied: [b[0]!.id], duplicates: [], failed: [{ id: b[1]!.id, error: terminal('rejected', 'bad row') }] })]);
    const fanOut = new FanOut({ sinks: [{ sink }], clock: fastClock().clock, log: memoryLogger() });
    const { batch, state } = trackingBatch(['a', 'b']);
    const dlq = collectingDlq();
    await deliverThenCommit({ batch, envelopes: ['a', 'b'].map(env), rejected: [], fanOut, deadLetters: dlq.publisher });
    expect(sink.calls).toHaveLength(1);
    expect(dlq.letters).toHaveLength(1);
    expect(dlq.letters[0]).toMatchObject({ id: 'b', sink: 'warehouse', reason: 'rejected', error: 'bad row', attempts: 1 });
    expect(dlq.letters[0]!.record.value!.toString()).toBe('b');
    expect(state.committed).toBe(true);
  });

  test('past its retry budget a sink dead-letters what is left and the pipeline moves on', async () => {
    const { clock } = fastClock();
    const down = () => transient('down', 'still down');
    const sink = scriptedSink('rest', [down, down, down]);
    const fanOut = new FanOut({ sinks: [{ sink, policy: { retries: 2, baseDelayMs: 10, maxDelayMs: 10 } }], clock, log: memoryLogger() });
    const d = await fanOut.deliver(['a'].map(env));
    expect(sink.calls).toHaveLength(3);
    expect(d.deadLetters).toMatchObject([{ id: 'a', sink: 'rest', reason: 'down', attempts: 3 }]);
  });

  test('a write that throws an unknown error is treated as transient and retried', async () => {
    const sink = scriptedSink('s', [() => new Error('ECONNRESET')]);
    const fanOut = new FanOut({ sinks: [{ sink }], clock: fastClock().clock, log: memoryLogger() });
    const d = await fanOut.deliver(['a'].map(env));
    expect(sink.calls).toHaveLength(2);
    expect(d.perSink.s!.applied).toBe(1);
  });

  test('stopping while a sink is being retried leaves the batch uncommitted', async () => {
    const controller = new AbortController();
    const sink = scriptedSink('s', [
      () => {
        controller.abort(new Error('stopping'));
        return transient('down', 'down');
      },
    ]);
    const fanOut = new FanOut({ sinks: [{ sink, policy: { retries: Infinity } }], clock: fastClock().clock, log: memoryLogger() });
    const { batch, state } = trackingBatch(['a']);
    await expect(deliverThenCommit({ batch, envelopes: [env('a')], rejected: [], fanOut, deadLetters: collectingDlq().publisher, signal: controller.signal })).rejects.toThrow('stopping');
    expect(state.committed).toBe(false);
  });

  test('if the dead letters cannot be stored the batch is not committed', async () => {
    const fanOut = new FanOut({ sinks: [{ sink: scriptedSink('s') }], clock: fastClock().clock, log: memoryLogger() });
    const { batch, state } = trackingBatch(['a']);
    const rejected: DeadLetter[] = [{ record: env('x').record, reason: 'malformed_json', error: 'x', attempts: 1, firstFailureMs: 0, lastFailureMs: 0 }];
    const failing = { publish: async () => Promise.reject(new Error('DLQ topic unavailable')) };
    await expect(deliverThenCommit({ batch, envelopes: [env('a')], rejected, fanOut, deadLetters: failing })).rejects.toThrow('DLQ topic unavailable');
    expect(state.committed).toBe(false);
  });

  test('a sink result that forgets an id counts as a failed write: retried, then dead-lettered with the reason', async () => {
    const sink = scriptedSink('buggy', [() => ({ applied: [], duplicates: [], failed: [] })]);
    const fanOut = new FanOut({ sinks: [{ sink, policy: { retries: 0 } }], clock: fastClock().clock, log: memoryLogger() });
    const d = await fanOut.deliver([env('a')]);
    expect(d.deadLetters[0]?.error).toContain('did not report on ids a');
  });

  test('a batch waiting on a slow sink keeps telling its source it is alive, and stops once committed', async () => {
    let beats = 0;
    let alive!: () => void;
    const twoBeats = new Promise<void>((r) => (alive = r));
    const sink = scriptedSink('slow');
    const write = sink.write.bind(sink);
    sink.write = async (b) => {
      await twoBeats;
      return write(b);
    };
    const fanOut = new FanOut({ sinks: [{ sink }], clock: fastClock().clock, log: memoryLogger() });
    const { batch, state } = trackingBatch(['a']);
    batch.keepAlive = async () => {
      if (++beats === 2) alive();
    };
    await deliverThenCommit({ batch, envelopes: [env('a')], rejected: [], fanOut, deadLetters: collectingDlq().publisher, keepAliveMs: 5 });
    expect(state.committed).toBe(true);
    const after = beats;
    await Bun.sleep(30);
    expect(beats).toBe(after);
  });

  test("a server's Retry-After is waited out even when the backoff would be shorter", async () => {
    const { clock, sleeps } = fastClock();
    const sink = scriptedSink('rest', [() => transient('rest_throttled', 'slow down', { retryAfterMs: 7000 })]);
    const fanOut = new FanOut({ sinks: [{ sink, policy: { retries: 3, baseDelayMs: 100, maxDelayMs: 10_000 } }], clock, log: memoryLogger() });
    const d = await fanOut.deliver([env('a')]);
    expect(sleeps).toEqual([7000]);
    expect(d.perSink.rest!.applied).toBe(1);
  });

  test("a Retry-After longer than the policy's longest delay is cut to it, so an hour's hint does not hold the batch for an hour", async () => {
    const { clock, sleeps } = fastClock();
    const throttled = () => transient('rest_throttled', 'come back in an hour', { retryAfterMs: 3_600_000 });
    const sink = scriptedSink('rest', [throttled, throttled, throttled]);
    const fanOut = new FanOut({ sinks: [{ sink, policy: { retries: 2, baseDelayMs: 100, maxDelayMs: 5000 } }], clock, log: memoryLogger() });
    const d = await fanOut.deliver([env('a')]);
    expect(sleeps).toEqual([5000, 5000]);
    expect(d.deadLetters).toMatchObject([{ id: 'a', sink: 'rest', reason: 'rest_throttled', attempts: 3 }]);
    expect(d.perSink.rest!.ms).toBe(10_000);
  });

  test('no wait goes past the retry budget: the last one is shortened to the budget, then what still fails is dead-lettered', async () => {
    const { clock, sleeps } = fastClock();
    const sink = scriptedSink('warehouse', Array.from({ length: 100 }, () => () => transient('warehouse_unavailable', 'disk full')));
    const fanOut = new FanOut({
      sinks: [{ sink, policy: { retries: Infinity, baseDelayMs: 200, maxDelayMs: 5000, budgetMs: 12_000 } }],
      clock,
      log: memoryLogger(),
      random: () => 1,
    });
    const { batch, state } = trackingBatch(['a', 'b']);
    const dlq = collectingDlq();
    const settled = await deliverThenCommit({ batch, envelopes: ['a', 'b'].map(env), rejected: [], fanOut, deadLetters: dlq.publisher });
    // 200 + 400 + 800 + 1600 + 3200 + 5000 = 11,200 ms, then the 800 ms left of the budget, then the budget is spent.
    expect(sleeps).toEqual([200, 400, 800, 1600, 3200, 5000, 800]);
    expect(sleeps.reduce((a, b) => a + b, 0)).toBe(12_000);
    expect(sink.calls).toHaveLength(8);
    expect(dlq.letters.map((l) => l.id)).toEqual(['a', 'b']);
    expect(dlq.letters[0]).toMatchObject({ sink: 'warehouse', reason: 'warehouse_unavailable', attempts: 8, firstFailureMs: 0, lastFailureMs: 12_000 });
    expect(settled.perSink.warehouse).toMatchObject({ deadLettered: 2, settledAtMs: 12_000 });
    expect(state.committed).toBe(true);
  });

  test('a sink that recovers within its budget is not dead-lettered, and its settle time says when it acknowledged', async () => {
    const { clock } = fastClock();
    const down = () => transient('redis_unavailable', 'connection refused');
    const sink = scriptedSink('redis', [down, down]);
    const fanOut = new FanOut({ sinks: [{ sink, policy: { retries: Infinity, baseDelayMs: 100, maxDelayMs: 1000, budgetMs: 60_000 } }], clock, log: memoryLogger(), random: () => 1 });
    const d = await fanOut.deliver([env('a')]);
    expect(d.deadLetters).toEqual([]);
    expect(d.perSink.redis).toMatchObject({ applied: 1, attempts: 3, settledAtMs: 300 });
  });

  test('a sink that lost acknowledged writes before the commit gets them again, and the batch commits with them in place', async () => {
    const sink = scriptedSink('volatile');
    let lostOnce = true;
    sink.recheck = async (acked) => {
      if (!lostOnce) return [];
      lostOnce = false;
      // The store restarted empty after acknowledging: it forgets everything.
      sink.applied.clear();
      return acked.map((e) => e.id);
    };
    const other = scriptedSink('other');
    const fanOut = new FanOut({ sinks: [{ sink }, { sink: other }], clock: fastClock().clock, log: memoryLogger() });
    const { batch, state } = trackingBatch(['a', 'b']);
    const settled = await deliverThenCommit({ batch, envelopes: ['a', 'b'].map(env), rejected: [], fanOut, deadLetters: collectingDlq().publisher });
    expect(state.committed).toBe(true);
    expect([...sink.applied].sort()).toEqual(['a', 'b']);
    expect(sink.calls).toEqual([['a', 'b'], ['a', 'b']]);
    expect(other.calls).toEqual([['a', 'b']]);
    expect(settled.perSink.volatile!.applied).toBe(4);
  });
});
