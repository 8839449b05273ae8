import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import postgres from 'postgres';
import { seededRandom } from '../../src/platform/random.ts';
import { testApp, type TestApp } from '../helpers/index.ts';
import { startRestReceiver, type RestReceiver } from '../helpers/rest-receiver.ts';
import { generate, PipelineProcess } from './processes.ts';
import { faultSuiteSkipReason, startPrivateServices } from './services.ts';
import { partitionLag, printTable, sinkCounts } from './verify.ts';

/**
 * Exactly once in effect, under faults. The whole pipeline runs on private Postgres, Redis and Kafka instances
 * (never the shared ones), with the CDC relay and the processor as separate OS processes, while the generator
 * writes N events (1% poison). Faults are injected one after the other, each bounded in time; then every
 * sink is compared with the source table.
 */

setDefaultTimeout(180_000);

const N = Number(Bun.env.FAULTS_EVENTS ?? 20_000);
const SEED = Number(Bun.env.FAULTS_SEED ?? Date.now() % 1_000_000);
const SCHEMA = 'faults';
const WAREHOUSE = 'faults_wh';
const PREFIX = 'faults:';
const skip = faultSuiteSkipReason();
if (skip) console.warn(`skip: fault-injection suite: ${skip}`);

describe.skipIf(!!skip)(`exactly once in effect under faults (N=${N}, seed ${SEED})`, () => {
  let services: Awaited<ReturnType<typeof startPrivateServices>>;
  let receiver: RestReceiver;
  let cdc: PipelineProcess;
  let processor: PipelineProcess;
  let api: TestApp;
  let sql: postgres.Sql;
  let redis: Redis;
  let env: Record<string, string>;
  let generating: Promise<number>;
  const stopGenerator = new AbortController();
  const random = seededRandom(SEED);
  const timeline: { fault: string; recoveredMs: number }[] = [];

  const facts = async () => {
    for (;;) {
      try {
        const [row] = await sql.unsafe<{ n: string }[]>(`SELECT count(*) AS n FROM "${WAREHOUSE}".engagement_facts`);
        return Number(row!.n);
      } catch {
        await Bun.sleep(200);
      }
    }
  };

  /**
   * After a fault: one new event is written to the source table, and the fault counts as recovered when that
   * event has reached the warehouse (the commit condition: every sink of its batch acknowledged).
   */
  let probes = 0;
  async function recovers(fault: string, injectedAt: number, timeoutMs = 90_000) {
    const deadline = Date.now() + timeoutMs;
    let id: string | undefined;
    while (!id && Date.now() < deadline) {
      try {
        const [row] = await sql.unsafe<{ id: string }[]>(
          `INSERT INTO "${SCHEMA}".engagement_events (content_id, user_id, event_type, event_ts, duration_ms, device)
           SELECT id, $1, 'play', now(), NULL, 'probe' FROM "${SCHEMA}".content ORDER BY id LIMIT 1 OFFSET $2 RETURNING id::text`,
          [`00000000-0000-4000-8000-${String(++probes).padStart(12, '0')}`, probes % 10],
        );
        id = row?.id;
      } catch {
        // Postgres is restarting.
      }
      if (!id) await Bun.sleep(200);
    }
    expect(id).toBeDefined();
    for (;;) {
      const found = await sql.unsafe(`SELECT 1 FROM "${WAREHOUSE}".engagement_facts WHERE event_id = $1`, [id!]).catch(() => []);
      if (found.length) break;
      if (Date.now() > deadline) throw new Error(`${fault}: the probe event ${id} did not reach the warehouse within ${timeoutMs} ms`);
      await Bun.sleep(200);
    }
    timeline.push({ fault, recoveredMs: Date.now() - injectedAt });
  }

  beforeAll(async () => {
    services = await startPrivateServices();
    receiver = await startRestReceiver();
    // The external system refuses the REST poison events whatever batch carries them.
    receiver.behaviour.reject = (e) => e.device === 'poison';
    const logDir = join(services.root, 'logs');
    mkdirSync(logDir, { recursive: true });
    env = {
      DATA_DIR: join(services.root, 'data'),
      DATABASE_URL: services.pg.url,
      DATABASE_SCHEMA: SCHEMA,
      WAREHOUSE_SCHEMA: WAREHOUSE,
      KAFKA_BOOTSTRAP_SERVERS: services.kafka.brokers.join(','),
      REDIS_URL: services.redis.url,
      REDIS_KEY_PREFIX: PREFIX,
      KAFKA_TOPIC_ENGAGEMENT_EVENTS: 'faults.events',
      KAFKA_TOPIC_CONTENT: 'faults.content',
      KAFKA_CONSUMER_GROUP: 'faults.processor',
      KAFKA_TOPIC_PARTITIONS: '6',
      BATCH_SIZE: '200',
      PROCESSING_INTERVAL_SECONDS: '0.5',
      ENABLE_EXACTLY_ONCE: 'true',
      CDC_HEARTBEAT_SECONDS: '1',
      // Every event of the run stays in the live window, so Redis totals must equal the warehouse's.
      REDIS_AGGREGATION_WINDOW_MINUTES: '120',
      EXTERNAL_SINK_URL: receiver.url,
      EXTERNAL_SINK_RETRIES: '6',
      EXTERNAL_SINK_TIMEOUT_MS: '3000',
      EXTERNAL_SINK_BREAKER_FAILURES: '10',
      EXTERNAL_SINK_BREAKER_COOLDOWN_MS: '3000',
      WAREHOUSE_FLUSH_INTERVAL_MS: '200',
      LOG_LEVEL: 'warn',
      LOG_FORMAT: 'json',
      ENGAGEMENT_PIPELINE: 'off',
    };
    // The API (for DLQ replay) on the private services, without pipeline workers of its own.
    api = await testApp(env);
    await api.ctx.stores.postgres!.migrate();
    sql = postgres(services.pg.url, { max: 2, onnotice: () => {}, connect_timeout: 2 });
    redis = new Redis(services.redis.url);
    redis.on('error', () => {});
    cdc = new PipelineProcess('cdc', { jobs: 'cdc', env, logDir });
    processor = new PipelineProcess('processor', { jobs: 'processor', env, logDir });
    cdc.start();
    processor.start();
    // The relay must stream its slot before the first event, or the events would predate the slot.
    for (let i = 0; i < 240; i++) {
      const [slot] = await sql`SELECT active FROM pg_replication_slots WHERE slot_name = ${`sillage_${SCHEMA}`}`.catch(() => []);
      if (slot?.active) break;
      await Bun.sleep(250);
    }
    generating = generate({
      url: services.pg.url,
      schema: SCHEMA,
      total: N,
      chunk: 50,
      intervalMs: 200,
      seed: SEED,
      noContentEvery: 200,
      restPoisonEvery: 199,
      signal: stopGenerator.signal,
    });
    await recovers('start', Date.now(), 120_000);
  }, 240_000);

  afterAll(async () => {
    stopGenerator.abort();
    await generating?.catch(() => {});
    await Promise.allSettled([processor?.stop(), cdc?.stop()]);
    await api?.close();
    await sql?.end({ timeout: 2 }).catch(() => {});
    redis?.disconnect();
    await receiver?.close();
    if (timeline.length) console.log(`\nfaults (seed ${SEED}), time until the warehouse moved again:\n${timeline.map((t) => `  ${t.fault.padEnd(44)} ${(t.recoveredMs / 1000).toFixed(1)} s`).join('\n')}`);
    await services?.destroy();
  }, 120_000);

  test('1. kill -9 of the processor at random points, 5 times: a new process takes over each time', async () => {
    for (let i = 1; i <= 5; i++) {
      await Bun.sleep(1500 + Math.floor(random() * 4000));
      const at = Date.now();
      await processor.kill9();
      processor.start();
      await recovers(`kill -9 of the processor (#${i})`, at);
    }
  });

  test('2. restart of the Kafka broker', async () => {
    const at = Date.now();
    await services.kafka.restart();
    await recovers('Kafka broker restart', at);
  });

  test('3. restart of Redis (no persistence): the live window is rebuilt from the warehouse', async () => {
    await redis.set(`${PREFIX}faults:marker`, '1');
    const at = Date.now();
    await services.redis.restart();
    // A new connection: the old one may still be finding out that its server went away.
    redis.disconnect();
    redis = new Redis(services.redis.url);
    redis.on('error', () => {});
    expect(await redis.get(`${PREFIX}faults:marker`)).toBeNull();
    await recovers('Redis restart (empty)', at);
    // The processor noticed the empty Redis and rebuilt the window before applying anything.
    expect(await redis.get(`${PREFIX}eng:epoch`)).toBeTruthy();
  });

  test('4. immediate restart of Postgres (pg_ctl restart -m immediate)', async () => {
    const at = Date.now();
    await services.pg.restartImmediate();
    await recovers('Postgres immediate restart', at);
  });

  test('5. the REST endpoint failing half the requests, then gone for 20 s', async () => {
    const at = Date.now();
    receiver.behaviour.failRate = 0.5;
    await Bun.sleep(8000);
    receiver.behaviour.failRate = 0;
    await receiver.down();
    await Bun.sleep(20_000);
    await receiver.up();
    await recovers('REST 50% failures, then 20 s away', at);
  }, 120_000);

  test('6. every sink holds each source event exactly once; poison events are in the DLQ with reasons; no partition stalled', async () => {
    const total = await generating;
    expect(total).toBe(N);
    const n = Number((await sql.unsafe<{ n: string }[]>(`SELECT count(*) AS n FROM "${SCHEMA}".engagement_events`))[0]!.n);
    const withContent = Number((await sql.unsafe<{ n: string }[]>(`SELECT count(*) AS n FROM "${SCHEMA}".engagement_events WHERE content_id IS NOT NULL`))[0]!.n);
    // Drain: every event in the warehouse and every partition committed to its end.
    const deadline = Date.now() + 150_000;
    for (;;) {
      const lag = await partitionLag(services.kafka.brokers, 'faults.processor', 'faults.events').catch(() => undefined);
      if ((await facts()) >= withContent && lag?.every((p) => p.lag === 0)) break;
      if (Date.now() > deadline) throw new Error(`not drained: ${await facts()} of ${withContent} facts, lag ${JSON.stringify(lag)}`);
      await Bun.sleep(500);
    }
    // What the REST sink gave up on while the endpoint was failing or away goes again; the endpoint still
    // refuses the poison events, which stay in the DLQ.
    const replay = await api.json('/dlq/replay?sink=rest&limit=10000', { method: 'POST' });
    expect(replay.status).toBe(200);

    const { counts, redisTotal, warehouseTotal, source } = await sinkCounts({
      sql,
      schema: SCHEMA,
      warehouseSchema: WAREHOUSE,
      redis,
      prefix: PREFIX,
      receiver,
      restPoison: (r) => r.device === 'poison',
    });
    const lag = await partitionLag(services.kafka.brokers, 'faults.processor', 'faults.events');
    const letters = await sql.unsafe<{ message_id: string; sink: string; reason: string; pending: boolean }[]>(
      `SELECT message_id, sink, reason, replayed_at IS NULL AS pending FROM "${SCHEMA}".dead_letters`,
    );
    printTable(`per-sink counts after the faults (source: ${n} rows, ${source.noContent.length} without content, ${source.restPoison.length} refused by the REST endpoint)`, counts, [
      `redis aggregate total ${redisTotal} = warehouse total ${warehouseTotal}`,
      `dead letters: ${letters.length} (${letters.filter((l) => l.pending).length} pending after replaying ${replay.body.replayed} for rest); reasons ${JSON.stringify(Object.fromEntries(Object.entries(Object.groupBy(letters, (l) => `${l.sink || '-'}:${l.reason}`)).map(([k, v]) => [k, v!.length])))}`,
      `partitions (committed/end): ${lag.map((p) => `${p.partition}:${p.committed}/${p.end}`).join(' ')}`,
    ]);

    for (const c of counts) expect({ sink: c.sink, lost: c.lost, duplicated: c.duplicated, unexpected: c.unexpected }).toEqual({ sink: c.sink, lost: 0, duplicated: 0, unexpected: 0 });
    expect(redisTotal).toBe(warehouseTotal);
    // Poison: no content → refused before the fan-out; refused by the endpoint → the REST sink's letter, with the 400.
    const pendingFor = (id: string, sink: string) => letters.find((l) => l.message_id === id && l.sink === sink && l.pending);
    for (const id of source.noContent) expect(pendingFor(id, '')?.reason).toBe('unknown_content');
    for (const id of source.restPoison) expect(pendingFor(id, 'rest')?.reason).toBe('rest_rejected');
    // Nothing else is left pending: what failed for a while was replayed and delivered.
    expect(letters.filter((l) => l.pending).length).toBe(source.noContent.length + source.restPoison.length);
    for (const p of lag) {
      expect(p.lag).toBe(0);
      expect(p.committed).toBeGreaterThan(0);
    }
  }, 300_000);
});
