import type Redis from 'ioredis';
import { join } from 'node:path';
import type postgres from 'postgres';
import { freePort, waitUp, type BenchResult } from '../lib.ts';
import { loadConfig } from '../../src/platform/config.ts';
import { createLogger } from '../../src/platform/log.ts';
import { openPostgres } from '../../src/platform/stores/postgres.ts';
import { HttpSink } from '../../src/platform/stream/http-sink.ts';
import type { Envelope } from '../../src/platform/stream/types.ts';
import { runBackfill } from '../../src/features/engagement/backfill.ts';
import { copyEvents, ensureCatalogue, spreadEvents, type World } from '../../src/features/engagement/generator.ts';
import { liveKeys } from '../../src/features/engagement/keys.ts';
import type { EngagementEvent } from '../../src/features/engagement/model.ts';
import type { EngagementNames } from '../../src/features/engagement/names.ts';
import { pipelineOptions } from '../../src/features/engagement/options.ts';
import { externalEvent } from '../../src/features/engagement/sinks.ts';
import { DuckDBWarehouse } from '../../src/features/engagement/warehouse/duckdb.ts';
import { PostgresWarehouse } from '../../src/features/engagement/warehouse/postgres.ts';

const ROOT = join(import.meta.dir, '../..');

/** What the part-1 benchmark hands over: clients, names and the lists of things to remove afterwards. */
export type Part2 = {
  quick: boolean;
  log: (m: string) => void;
  id: string;
  world: World;
  sql: postgres.Sql;
  redis: Redis;
  dataDir: string;
  receiverUrl: string;
  names(suffix: string): EngagementNames;
  schemas: string[];
  slots: EngagementNames[];
  topics: string[];
  env: Record<string, string | undefined>;
};

async function until(fn: () => Promise<boolean>, timeoutMs: number, what: string, intervalMs = 50) {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(intervalMs);
  }
}

/** Events the receiver took, repeats included (ids of the different parts overlap, so distinct keys would not add up). */
const receiverCount = async (url: string) => ((await (await fetch(url)).json()) as { receipts: number }).receipts;

/** Each sink alone, on the same enriched events: the basis of the warehouse choice. */
export async function sinkThroughput(c: Part2, envelopes: Envelope<EngagementEvent>[]): Promise<BenchResult[]> {
  const n = envelopes.length;
  const results: BenchResult[] = [];
  const batch = 5000;
  const time = async (write: (b: Envelope<EngagementEvent>[]) => Promise<unknown>) => {
    const t0 = performance.now();
    for (let i = 0; i < n; i += batch) await write(envelopes.slice(i, i + batch));
    return n / ((performance.now() - t0) / 1000);
  };
  const schema = `${c.id}_sinks_wh`;
  c.schemas.push(schema);
  const pgw = new PostgresWarehouse({ url: c.env.DATABASE_URL!, schema, flushRows: batch, flushIntervalMs: 10 });
  await pgw.prepare();
  const pgRate = await time((b) => pgw.write(b));
  await pgw.close();
  const duck = new DuckDBWarehouse({ path: join(c.dataDir, 'bench-warehouse.duckdb'), flushRows: batch, flushIntervalMs: 10 });
  await duck.prepare();
  const duckRate = await time((b) => duck.write(b));
  await duck.close();
  const rest = new HttpSink<EngagementEvent>({ name: 'rest', url: c.receiverUrl, timeoutMs: 30_000, gzipAboveBytes: 65_536, breaker: { failureThreshold: 10, cooldownMs: 10_000 }, toJson: (e) => externalEvent(e.value) });
  const restRate = await time((b) => rest.write(b));
  results.push(
    { name: 'warehouse sink, Postgres (COPY + INSERT … ON CONFLICT DO NOTHING)', value: pgRate, unit: 'ev/s', reference: { name: 'DuckDB warehouse', value: duckRate }, higherIsBetter: true, notes: `${n} events, ${batch} per micro-batch, empty table with its indexes` },
    { name: 'warehouse sink, DuckDB (appender + INSERT … ON CONFLICT DO NOTHING)', value: duckRate, unit: 'ev/s', higherIsBetter: true },
    { name: 'REST sink → local receiver (another process)', value: restRate, unit: 'ev/s', higherIsBetter: true, notes: `${batch} per POST, gzip, idempotency keys, receiver dedupes` },
  );
  c.log(`sinks: Postgres warehouse ${Math.round(pgRate)}, DuckDB ${Math.round(duckRate)}, REST ${Math.round(restRate)} ev/s`);
  return results;
}

/** Backfill of a month of history from Postgres through Redis, the warehouse and the REST sink. */
export async function backfillThroughput(c: Part2): Promise<BenchResult[]> {
  const n = c.quick ? 60_000 : 300_000;
  const names = c.names('bf');
  c.schemas.push(names.schema, `${names.schema}_wh`);
  c.topics.push(names.eventsTopic, names.contentTopic, names.dlqTopic);
  const pg = openPostgres({ url: c.env.DATABASE_URL!, schema: names.schema, migrationsDir: join(ROOT, 'db/postgres'), max: 2 });
  await pg.migrate();
  await ensureCatalogue(pg.sql, c.world);
  await copyEvents(pg.sql, spreadEvents(c.world, n, Date.UTC(2026, 0, 1), Date.UTC(2026, 1, 1)));
  await pg.sql`ANALYZE engagement_events`;
  await pg.close();
  const config = loadConfig({
    ...c.env,
    DATA_DIR: c.dataDir,
    DATABASE_SCHEMA: names.schema,
    WAREHOUSE_SCHEMA: `${names.schema}_wh`,
    REDIS_KEY_PREFIX: `${c.id}:bf:`,
    KAFKA_TOPIC_ENGAGEMENT_EVENTS: names.eventsTopic,
    KAFKA_TOPIC_CONTENT: names.contentTopic,
    KAFKA_CONSUMER_GROUP: names.group,
    EXTERNAL_SINK_URL: c.receiverUrl,
    LOG_LEVEL: 'error',
  });
  const before = await receiverCount(c.receiverUrl);
  const lanes = Number(c.env.BENCH_BACKFILL_LANES ?? 4);
  const batchSize = Number(c.env.BENCH_BACKFILL_BATCH ?? 5000);
  c.log(`backfill: ${n} events of January 2026, ${lanes} lanes of ${batchSize}`);
  const summary = await runBackfill(
    pipelineOptions(config),
    { startDate: '2026-01-01', endDate: '2026-01-31', fromMs: Date.UTC(2026, 0, 1), toMs: Date.UTC(2026, 1, 1), lanes, batchSize, restart: false },
    { log: createLogger({ level: 'error', format: 'json' }) },
    new AbortController().signal,
  );
  const rate = summary.eventsThisRun / (summary.ms / 1000);
  const delivered = (await receiverCount(c.receiverUrl)) - before;
  if (delivered < n || summary.perSink.warehouse?.applied !== n) throw new Error(`backfill delivered ${delivered} to REST and ${summary.perSink.warehouse?.applied} to the warehouse, expected ${n}`);
  c.log(`backfill: ${Math.round(rate)} ev/s`);
  return [
    {
      name: 'backfill Postgres → Redis + warehouse + REST',
      value: rate,
      unit: 'ev/s',
      target: '≥ 50,000 ev/s',
      reference: { name: 'reference system', value: 10_000 },
      higherIsBetter: true,
      notes: `${n} events in ${(summary.ms / 1000).toFixed(1)} s, ${lanes} lanes × ${batchSize}; every event applied once in the warehouse and at the REST endpoint (older than the live window: acknowledged by Redis without effect)`,
    },
  ];
}

/**
 * The real server (its CDC and processor workers) with all three sinks, draining a backlog committed at once,
 * with ENABLE_EXACTLY_ONCE on and off in the same run.
 */
export async function streamingExactlyOnce(c: Part2): Promise<BenchResult[]> {
  const n = c.quick ? 30_000 : 100_000;
  const rates: Record<string, number> = {};
  for (const eos of ['true', 'false']) {
    const names = c.names(`eos_${eos}`);
    c.schemas.push(names.schema, `${names.schema}_wh`);
    c.slots.push(names);
    c.topics.push(names.eventsTopic, names.contentTopic, names.dlqTopic);
    const port = await freePort();
    const prefix = `${c.id}:eos_${eos}:`;
    const server = Bun.spawn(['bun', 'src/main.ts'], {
      cwd: ROOT,
      env: {
        ...c.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: c.dataDir, LOG_LEVEL: 'error', LOG_FORMAT: 'json', ROLE: 'all', ENGAGEMENT_PIPELINE: 'auto',
        DATABASE_SCHEMA: names.schema, WAREHOUSE_SCHEMA: `${names.schema}_wh`, REDIS_KEY_PREFIX: prefix, KAFKA_TOPIC_ENGAGEMENT_EVENTS: names.eventsTopic,
        KAFKA_TOPIC_CONTENT: names.contentTopic, KAFKA_CONSUMER_GROUP: names.group, CDC_SLOT_NAME: names.slot, CDC_PUBLICATION_NAME: names.publication,
        BATCH_SIZE: c.env.BENCH_BATCH_SIZE ?? '500', ENABLE_EXACTLY_ONCE: eos, EXTERNAL_SINK_URL: c.receiverUrl, STREAMS_DIR: join(c.dataDir, 'no-streams'),
      },
      stdout: 'ignore',
      stderr: 'inherit',
    });
    try {
      await waitUp(`http://127.0.0.1:${port}/health`, 30_000);
      const sql = (await import('postgres')).default(c.env.DATABASE_URL!, { onnotice: () => {}, max: 2, connection: { search_path: names.schema } });
      await until(async () => (await sql`SELECT active FROM pg_replication_slots WHERE slot_name = ${names.slot}`.catch(() => []))[0]?.active === true, 60_000, 'the CDC relay');
      await ensureCatalogue(sql as never, c.world);
      const applied = async () => Number((await c.redis.get(liveKeys(prefix).applied)) ?? 0);
      const facts = async () => Number((await sql.unsafe<{ n: string }[]>(`SELECT count(*) AS n FROM "${names.schema}_wh".engagement_facts`).catch(() => [{ n: '0' }]))[0]!.n);
      const restBefore = await receiverCount(c.receiverUrl);
      const now = Date.now();
      await copyEvents(sql as never, spreadEvents(c.world, n, now - 60_000, now));
      const t0 = performance.now();
      await until(async () => (await applied()) >= n && (await facts()) >= n && (await receiverCount(c.receiverUrl)) - restBefore >= n, 600_000, `the backlog to drain (exactly-once ${eos})`, 100);
      rates[eos] = n / ((performance.now() - t0) / 1000);
      c.log(`streaming, all sinks, ENABLE_EXACTLY_ONCE=${eos}: ${Math.round(rates[eos]!)} ev/s`);
      await sql.end();
    } finally {
      server.kill('SIGTERM');
      await server.exited;
    }
  }
  return [
    {
      name: 'streaming with all sinks, ENABLE_EXACTLY_ONCE=true',
      value: rates.true!,
      unit: 'ev/s',
      target: '≥ 5,000 ev/s',
      reference: { name: 'ENABLE_EXACTLY_ONCE=false, same run', value: rates.false! },
      higherIsBetter: true,
      notes: `${n} events committed by one COPY, drained through CDC → Kafka → processor → Redis + Postgres warehouse + REST (receiver in another process); BATCH_SIZE ${c.env.BENCH_BATCH_SIZE ?? '500'}`,
    },
    { name: 'streaming with all sinks, ENABLE_EXACTLY_ONCE=false', value: rates.false!, unit: 'ev/s', higherIsBetter: true, notes: 'idempotent (non-transactional) CDC producer; sinks dedupe the same way' },
  ];
}

