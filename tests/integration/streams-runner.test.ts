import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { ensureTopic } from '../../src/features/streams/producer.ts';
import type { ScenarioName } from '../../src/features/streams/scenarios.ts';
import { skipReason, waitFor } from '../helpers/index.ts';
import { expectSameResults, naiveResults } from '../helpers/streams-naive.ts';
import { exampleSpec, expectedRecords, produceInChunks, runInProcess, storedPosition, storedResults, streamServices, type StreamServices } from '../helpers/streams.ts';

setDefaultTimeout(120_000);
const MIN = 60_000;

describe.skipIf(!!skipReason('postgres', 'kafka', 'redis'))('stream jobs on real Kafka, Postgres and Redis', () => {
  let s: StreamServices;
  beforeAll(() => {
    s = streamServices();
  });
  afterAll(() => s.cleanup());

  test.each([
    ['finance_ohlc_1m', 'ticks', 100, 6 * MIN],
    ['iot_device_5m', 'sensors', 60, 12 * MIN],
    ['monitoring_services_1m', 'requests', 150, 6 * MIN],
  ] as const)('example job %s gives exactly the naive results of its %s, with 5%% late and disordered records', async (name, scenario, ratePerSec, durationMs) => {
    const topic = s.topic(scenario);
    const startMs = Math.floor((Date.now() - 60 * MIN) / MIN) * MIN;
    const gen = { scenario: scenario as ScenarioName, seed: 42, ratePerSec, durationMs, startMs, lateFraction: 0.05, disorderMs: 2000, lateMs: 20_000 };
    const spec = exampleSpec(name, topic);
    await ensureTopic(s.kafka, topic, 3);

    // Records arrive in chunks while the job runs, so windows are emitted before some of their late records arrive.
    const job = runInProcess(s.jobOptions(spec));
    let produced = 0;
    try {
      await waitFor(() => job.status()?.phase === 'running', { timeoutMs: 30_000, what: 'the job to start' });
      const summary = await produceInChunks(s, topic, gen, 2000, (sent) => waitFor(async () => (await storedPosition(s, spec.name)) === sent, { timeoutMs: 30_000, what: `the job to read ${sent} records` }));
      produced = summary.records;
      expect(summary.late).toBeGreaterThan(produced * 0.04);
    } finally {
      await job.stop();
    }

    const records = expectedRecords(spec, gen);
    const naive = naiveResults(spec, records, { nowMs: Date.now(), lateness: 'ignore' });
    const matching = [...naive.values()].reduce((n, w) => n + (spec.window.type === 'tumbling' ? w.records : 0), 0);
    const [cp] = await s.sql<Record<string, string>[]>`SELECT * FROM stream_checkpoints WHERE job = ${spec.name}`;
    expect({ records_in: Number(cp!.records_in), late: Number(cp!.late), dlq: Number(cp!.dlq) }).toEqual({ records_in: produced, late: 0, dlq: 0 });
    if (spec.window.type === 'tumbling') expect(Number(cp!.filtered)).toBe(produced - matching);

    // Every window the watermark has passed is in Postgres, with exactly the naive values.
    const watermark = Number(cp!.watermark_ms);
    const expected = new Map([...naive].filter(([, w]) => w.end <= watermark));
    const stored = await storedResults(s, spec.name);
    expect(expected.size).toBeGreaterThan(20);
    expectSameResults(spec, stored, expected);
    // Late records really did revise windows that had already been emitted.
    expect([...stored.values()].filter((r) => r.revision > 1).length).toBeGreaterThan(0);

    // Redis shows the newest stored window of every key.
    const latest = await s.redis.hgetall(`${s.redisPrefix}streams:${spec.name}:latest`);
    const newest = new Map<string, number>();
    for (const r of stored.values()) newest.set(r.key, Math.max(newest.get(r.key) ?? -Infinity, r.start));
    expect(Object.fromEntries(Object.entries(latest).map(([k, v]) => [k, JSON.parse(v).start]))).toEqual(Object.fromEntries(newest));
  });
});
