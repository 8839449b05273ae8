import { DDSketch } from '@datadog/sketches-js';
import { Kafka, logLevel } from 'kafkajs';
import postgres from 'postgres';
import Redis from 'ioredis';
import { aggregate, compileJob, createState } from '../../src/features/streams/aggregate.ts';
import { compileSchema, parseRecords, type ParsedRecord } from '../../src/features/streams/parse.ts';
import { ensureTopic, produceScenario } from '../../src/features/streams/producer.ts';
import { runJob, type JobRuntimeStatus } from '../../src/features/streams/runner.ts';
import { generate } from '../../src/features/streams/scenarios.ts';
import { QUANTILE_RELATIVE_ACCURACY } from '../../src/features/streams/sketches.ts';
import { validateSpec } from '../../src/features/streams/spec.ts';
import { ManualClock, systemClock } from '../../src/platform/clock.ts';
import { loadConfig } from '../../src/platform/config.ts';
import { createLogger } from '../../src/platform/log.ts';
import { removeCorner } from '../../tests/helpers/streams.ts';
import type { BenchModule, BenchResult } from '../lib.ts';

const KEYS = 1000;
const MIN = 60_000;

/** The monitoring job of the issue: 1-minute tumbling windows per service, count and p95 latency. */
const spec = (topic: string, name: string) =>
  validateSpec({
    name,
    source: { topic, schema: { ts: 'timestamp', service: 'string', route: 'string', status: 'integer', latency_ms: 'number', user: 'string' } },
    time: { field: 'ts', watermark_delay: '2s', allowed_lateness: '1m' },
    key: ['service'],
    window: { type: 'tumbling', size: '1m' },
    aggregates: [
      { name: 'requests', fn: 'count' },
      { name: 'p95_latency_ms', fn: 'p95', field: 'latency_ms' },
    ],
  });

function records(n: number, startMs: number): ParsedRecord[] {
  const s = spec('bench', 'bench');
  const raw = [...generate({ scenario: 'requests', seed: 1, ratePerSec: n / 10 / 60, durationMs: 10 * MIN, startMs, keys: KEYS, disorderMs: 2000 })].map((r, i) => ({ partition: 0, offset: i, value: JSON.stringify(r.value) }));
  return parseRecords(raw, compileSchema(s)).records;
}

/** The aggregation core on a pre-parsed array, in batches as the runner feeds it. */
function runCore(rs: ParsedRecord[], clock: ManualClock) {
  const state = createState(compileJob(spec('bench', 'bench')), clock);
  let emitted = 0;
  for (let i = 0; i < rs.length; i += 5000) emitted += aggregate(state, rs.slice(i, i + 5000), clock).emitted.length;
  return emitted + state.open;
}

/** What someone would write by hand for the same result: a map of windows per key, a counter and a DDSketch. */
function runHand(rs: ParsedRecord[]) {
  const windows = new Map<string, Map<number, { n: number; sketch: DDSketch }>>();
  for (let i = 0; i < rs.length; i++) {
    const r = rs[i]!;
    const key = r.v.service as string;
    const start = r.t - (r.t % MIN);
    let byStart = windows.get(key);
    if (!byStart) windows.set(key, (byStart = new Map()));
    let w = byStart.get(start);
    if (!w) byStart.set(start, (w = { n: 0, sketch: new DDSketch({ relativeAccuracy: QUANTILE_RELATIVE_ACCURACY }) }));
    w.n++;
    w.sketch.accept(r.v.latency_ms as number);
  }
  let total = 0;
  for (const m of windows.values()) for (const w of m.values()) total += w.n > 0 ? 1 : 0;
  return total;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const bench: BenchModule = {
  name: 'streams',
  description: `monitoring job (1-minute tumbling, count + p95, ${KEYS.toLocaleString('en-US')} keys): Kafka → Postgres records/s, and the aggregation core against a hand-written loop`,
  async run({ quick, log }) {
    const results: BenchResult[] = [];

    // 1. The core alone vs a hand-written loop, same records, alternating rounds, median of each.
    const n = quick ? 200_000 : 500_000;
    const startMs = Date.UTC(2026, 10, 23, 12);
    const rs = records(n, startMs);
    const clock = new ManualClock(startMs + 20 * MIN);
    runCore(rs.slice(0, 50_000), clock);
    runHand(rs.slice(0, 50_000));
    const core: number[] = [];
    const hand: number[] = [];
    for (let round = 0; round < (quick ? 3 : 5); round++) {
      let t0 = performance.now();
      runHand(rs);
      hand.push(n / ((performance.now() - t0) / 1000));
      t0 = performance.now();
      runCore(rs, clock);
      core.push(n / ((performance.now() - t0) / 1000));
    }
    log(`core rounds: ${core.map(Math.round).join(', ')}; hand rounds: ${hand.map(Math.round).join(', ')} records/s`);
    results.push(
      { name: 'aggregation core (aggregate())', value: median(core), unit: 'records/s', reference: { name: 'hand-written loop', value: median(hand) }, target: '≥ 0.5×', higherIsBetter: true, notes: `${n.toLocaleString('en-US')} pre-parsed records, batches of 5,000` },
    );

    // 2. End to end on the real services: records already in Kafka → results and offsets committed in Postgres.
    const config = loadConfig();
    if (!config.DATABASE_URL || !config.KAFKA_BOOTSTRAP_SERVERS || !config.REDIS_URL) {
      log('end-to-end part skipped: set DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS and REDIS_URL (source .cache/services.env)');
      return results;
    }
    const id = `bench_streams_${Date.now().toString(36)}`;
    const total = quick ? 200_000 : 600_000;
    const partitions = config.KAFKA_TOPIC_PARTITIONS;
    const kafka = new Kafka({ clientId: id, brokers: config.KAFKA_BOOTSTRAP_SERVERS, logLevel: logLevel.NOTHING });
    const sql = postgres(config.DATABASE_URL, { max: 1, onnotice: () => {} });
    const redis = new Redis(config.REDIS_URL);
    try {
      await ensureTopic(kafka, id, partitions);
      log(`producing ${total.toLocaleString('en-US')} records (${KEYS} services, ${partitions} partitions)`);
      const produced = await produceScenario(kafka, { scenario: 'requests', topic: id, seed: 2, ratePerSec: total / 600, durationMs: 10 * MIN, startMs: Date.now() - 70 * MIN, keys: KEYS, disorderMs: 2000, fast: true, batchSize: 5000 }, systemClock);
      log(`produced at ${produced.recordsPerSec.toLocaleString('en-US')} records/s; starting the job`);
      const controller = new AbortController();
      let status: JobRuntimeStatus | undefined;
      const job = runJob(
        { spec: spec(id, 'bench'), postgres: { url: config.DATABASE_URL, schema: id }, kafka: { brokers: config.KAFKA_BOOTSTRAP_SERVERS }, redis: { url: config.REDIS_URL, prefix: `${id}:` }, commitIntervalMs: 1000 },
        { signal: controller.signal, clock: systemClock, log: createLogger({ level: 'warn', format: 'json' }), emit: () => {}, setState: (s) => (status = s) },
      );
      const position = async () => Number((await sql`SELECT coalesce(sum(next_offset), 0) AS n FROM ${sql(id)}.stream_offsets`.catch(() => [{ n: 0 }]))[0]!.n);
      let first = 0;
      const deadline = Date.now() + 300_000;
      while (Date.now() < deadline) {
        // The clock starts when the consumer runs (partitions assigned, fetching). The job reports its counters only
        // on commits and ticks (≥ 1 s apart), so "first record seen" would start it late and inflate the rate.
        if (!first && status?.phase === 'running') first = performance.now();
        if (first && (await position()) >= total) break;
        await Bun.sleep(first ? 20 : 5);
      }
      const seconds = (performance.now() - first) / 1000;
      controller.abort();
      await job;
      const [cp] = await sql`SELECT records_in, windows_emitted FROM ${sql(id)}.stream_checkpoints`;
      const [rows] = await sql`SELECT count(*)::int AS n FROM ${sql(id)}.stream_results`;
      log(`consumed ${Number(cp!.records_in).toLocaleString('en-US')} records in ${seconds.toFixed(2)} s; ${rows!.n} window results in Postgres`);
      results.push({
        name: 'Kafka → Postgres end to end',
        value: total / seconds,
        unit: 'records/s',
        target: '≥ 50,000 records/s',
        higherIsBetter: true,
        notes: `${total.toLocaleString('en-US')} records, ${partitions} partitions, commit every 1 s (results + state + offsets in one transaction), Redis latest values on`,
      });
    } finally {
      await removeCorner({ id, kafka, sql, redis, topics: [id] });
    }
    return results;
  },
};
export default bench;
