import { afterEach, describe, expect, test } from 'bun:test';
import { systemClock, type Clock } from '../../src/platform/clock.ts';
import { memoryLogger } from '../../src/platform/log.ts';
import { FanOut } from '../../src/platform/stream/fanout.ts';
import { batchKey, HttpSink } from '../../src/platform/stream/http-sink.ts';
import type { EngagementEvent } from '../../src/features/engagement/model.ts';
import { engagementEnvelope } from '../helpers/engagement.ts';
import { startRestReceiver, type RestReceiver } from '../helpers/rest-receiver.ts';

let receiver: RestReceiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

const sinkFor = (url: string, o: { timeoutMs?: number; failures?: number; cooldownMs?: number; clock?: Clock; gzipAboveBytes?: number } = {}) =>
  new HttpSink<EngagementEvent>({
    name: 'rest',
    url,
    timeoutMs: o.timeoutMs ?? 2000,
    gzipAboveBytes: o.gzipAboveBytes ?? 65_536,
    breaker: { failureThreshold: o.failures ?? 10, cooldownMs: o.cooldownMs ?? 60_000 },
    toJson: (e) => ({ ...e.value }),
    clock: o.clock,
  });

/** Sleeps pass at once (and are recorded); the time is real otherwise. */
function recordingClock() {
  const sleeps: number[] = [];
  let skew = 0;
  const clock: Clock = { now: () => Date.now() + skew, sleep: async (ms) => void (sleeps.push(ms), (skew += ms)) };
  return { clock, sleeps };
}

const batchOf = (ns: number[]) => ns.map((n) => engagementEnvelope(n));

describe('REST sink against a misbehaving endpoint', () => {
  test('an event the endpoint answers 400 for fails terminally on its own: dead-lettered once, never retried, the rest delivered', async () => {
    receiver = await startRestReceiver();
    receiver.behaviour.reject = (e) => e.id === '5';
    const sink = sinkFor(receiver.url);
    const fanOut = new FanOut({ sinks: [{ sink, policy: { retries: 5 } }], clock: recordingClock().clock, log: memoryLogger() });
    const d = await fanOut.deliver(batchOf([1, 2, 3, 4, 5, 6, 7, 8]));
    expect(d.deadLetters.map((l) => [l.id, l.reason, l.sink, l.attempts])).toEqual([['engagement_events:5', 'rest_rejected', 'rest', 1]]);
    expect(d.deadLetters[0]!.error).toContain('400');
    expect([...receiver.applied.keys()].sort()).toEqual(batchOf([1, 2, 3, 4, 6, 7, 8]).map((e) => e.id).sort());
    // Halving isolates the refused event in log2(8) rounds; nothing is sent again after that.
    expect(receiver.requests.filter((r) => r.status === 400).map((r) => r.keys)).toEqual([8, 4, 2, 1]);
    expect(d.perSink.rest!.attempts).toBe(1);
  });

  test('429 with Retry-After: the batch waits the seconds the endpoint asked for, then goes through', async () => {
    receiver = await startRestReceiver();
    receiver.behaviour.throttle = { retryAfterSeconds: 3, times: 1 };
    const { clock, sleeps } = recordingClock();
    const fanOut = new FanOut({ sinks: [{ sink: sinkFor(receiver.url, { clock }), policy: { retries: 3, baseDelayMs: 10, maxDelayMs: 5000 } }], clock, log: memoryLogger() });
    const d = await fanOut.deliver(batchOf([1, 2]));
    expect(sleeps).toEqual([3000]);
    expect(receiver.requests.map((r) => r.status)).toEqual([429, 200]);
    expect(d.perSink.rest).toMatchObject({ applied: 2, deadLettered: 0, attempts: 2 });
  });

  test('429 with Retry-After: 3600 waits only the policy\'s longest delay before trying again', async () => {
    receiver = await startRestReceiver();
    receiver.behaviour.throttle = { retryAfterSeconds: 3600, times: 1 };
    const { clock, sleeps } = recordingClock();
    const fanOut = new FanOut({ sinks: [{ sink: sinkFor(receiver.url, { clock }), policy: { retries: 3, baseDelayMs: 10, maxDelayMs: 5000 } }], clock, log: memoryLogger() });
    const d = await fanOut.deliver(batchOf([1, 2]));
    expect(sleeps).toEqual([5000]);
    expect(receiver.requests.map((r) => r.status)).toEqual([429, 200]);
    expect(d.perSink.rest).toMatchObject({ applied: 2, deadLettered: 0, attempts: 2 });
  });

  test('a response that hangs is a transient timeout; past the retry budget the events are dead-lettered with that reason', async () => {
    receiver = await startRestReceiver();
    receiver.behaviour.hang = true;
    const fanOut = new FanOut({ sinks: [{ sink: sinkFor(receiver.url, { timeoutMs: 150 }), policy: { retries: 1, baseDelayMs: 1, maxDelayMs: 1 } }], clock: systemClock, log: memoryLogger() });
    const d = await fanOut.deliver(batchOf([1, 2]));
    expect(d.deadLetters.map((l) => [l.reason, l.attempts])).toEqual([
      ['rest_timeout', 2],
      ['rest_timeout', 2],
    ]);
    expect(d.deadLetters[0]!.error).toContain('EXTERNAL_SINK_TIMEOUT_MS');
  });

  test('half of the requests failing is absorbed by the retries: every event arrives once', async () => {
    let flip = false;
    receiver = await startRestReceiver({ random: () => ((flip = !flip) ? 0 : 0.99) });
    receiver.behaviour.failRate = 0.5;
    const { clock } = recordingClock();
    const fanOut = new FanOut({ sinks: [{ sink: sinkFor(receiver.url, { clock }), policy: { retries: 3 } }], clock, log: memoryLogger() });
    for (let i = 0; i < 5; i++) {
      const d = await fanOut.deliver(batchOf([i * 10 + 1, i * 10 + 2]));
      expect(d.deadLetters).toEqual([]);
    }
    expect(receiver.applied.size).toBe(10);
    expect(receiver.requests.filter((r) => r.status === 503)).toHaveLength(5);
  });

  test('a dead endpoint opens the circuit: later batches go to the DLQ at once without a request; after the cool-down a probe closes it', async () => {
    receiver = await startRestReceiver();
    const url = receiver.url;
    await receiver.down();
    const { clock } = recordingClock();
    const sink = sinkFor(url, { failures: 3, cooldownMs: 5000, clock });
    const fanOut = new FanOut({ sinks: [{ sink, policy: { retries: 5 } }], clock, log: memoryLogger() });
    const first = await fanOut.deliver(batchOf([1]));
    // Three refused connections open the circuit; the fourth attempt is refused without a request.
    expect(first.perSink.rest!.attempts).toBe(4);
    expect(first.deadLetters.map((l) => l.reason)).toEqual(['rest_circuit_open']);
    expect(sink.breaker.state).toBe('open');
    const second = await fanOut.deliver(batchOf([2]));
    expect(second.perSink.rest!.attempts).toBe(1);
    expect(second.deadLetters[0]!.error).toContain('POST /dlq/replay?sink=rest');
    await receiver.up();
    await clock.sleep(5000);
    const third = await fanOut.deliver(batchOf([3]));
    expect(third.deadLetters).toEqual([]);
    expect(sink.breaker.state).toBe('closed');
    expect([...receiver.applied.keys()]).toEqual(['engagement_events:3']);
  });

  test('a large batch is gzipped, and every request names its events with an Idempotency-Key', async () => {
    receiver = await startRestReceiver();
    const sink = sinkFor(receiver.url, { gzipAboveBytes: 1024 });
    const big = batchOf(Array.from({ length: 50 }, (_, i) => i + 1));
    expect((await sink.write(big)).applied).toHaveLength(50);
    expect((await sink.write(batchOf([99]))).applied).toHaveLength(1);
    expect(receiver.requests.map((r) => r.gzip)).toEqual([true, false]);
    expect(receiver.requests[0]!.idempotencyKey).toBe(batchKey(big.map((e) => e.id)));
  });

  test('a plain 2xx without per-event results counts every event as delivered', async () => {
    receiver = await startRestReceiver();
    receiver.behaviour.plain = true;
    const result = await sinkFor(receiver.url).write(batchOf([1, 2]));
    expect(result).toEqual({ applied: ['engagement_events:1', 'engagement_events:2'], duplicates: [], failed: [] });
  });
});
