import Redis from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { deleteKeys } from '../../tests/helpers/redis.ts';
import { freePort, waitUp, type BenchModule, type BenchResult } from '../lib.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { createLogger } from '../../src/platform/log.ts';
import { openPostgres } from '../../src/platform/stores/postgres.ts';
import { ensureTopics } from '../../src/platform/stream/kafka.ts';
import type { Envelope, SourceRecord } from '../../src/platform/stream/types.ts';
import { dropReplication, prepareReplication, runCdcRelay } from '../../src/features/engagement/cdc.ts';
import { buildWorld, copyEvents, ensureCatalogue, eventDrafts, insertEvents, spreadEvents, type World } from '../../src/features/engagement/generator.ts';
import { liveKeys } from '../../src/features/engagement/keys.ts';
import type { Content, EngagementEvent } from '../../src/features/engagement/model.ts';
import type { EngagementNames } from '../../src/features/engagement/names.ts';
import { decodeEvent } from '../../src/features/engagement/processor.ts';
import { openPublisher } from '../../src/features/engagement/publisher.ts';
import { RedisEngagementSink } from '../../src/features/engagement/redis-sink.ts';
import { enrich } from '../../src/features/engagement/transform.ts';
import { kafkajsConsume, kafkajsProduce, platformaticConsume, platformaticProduce, type Msg } from './kafka-clients.ts';
import { backfillThroughput, sinkThroughput, streamingExactlyOnce, type Part2 } from './part2.ts';

const ROOT = join(import.meta.dir, '../..');
const env = Bun.env;
const DATABASE_URL = env.DATABASE_URL;
const BROKERS = env.KAFKA_BOOTSTRAP_SERVERS?.split(',');
const REDIS_URL = env.REDIS_URL;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

/** Real-shaped Kafka records, as CDC produces them. */
function cdcShaped(world: World, n: number): Msg[] {
  const drafts = eventDrafts(world);
  return Array.from({ length: n }, (_, i) => {
    const d = drafts.next().value!;
    const value = { id: String(i + 1), content_id: d.content_id, user_id: d.user_id, event_type: d.event_type, event_ts: new Date().toISOString(), duration_ms: d.duration_ms, device: d.device, raw_payload: d.raw_payload };
    return { key: d.content_id, value: JSON.stringify(value), headers: { 'message-id': `engagement_events:${i + 1}`, source: 'postgres:bench.engagement_events', 'source-lsn': '0/1', 'source-commit-ts': value.event_ts } };
  });
}

const contentOf = (world: World) => new Map<string, Content>(world.catalogue.map((c) => [c.id, { ...c, publish_ts: c.publish_ts.toISOString() }]));

async function untilTrue(fn: () => Promise<boolean>, timeoutMs: number, what: string, intervalMs = 20) {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(intervalMs);
  }
}

const bench: BenchModule = {
  name: 'engagement',
  description:
    'Postgres → CDC → Kafka → processor → Redis + warehouse + REST: stages and sinks in isolation, backfill, sustained end-to-end throughput, commit→visible latency, exactly-once on vs off, kafkajs vs @platformatic/kafka (BENCH_PARTS=clients,stages,sinks,backfill,eos,e2e to pick)',
  async run({ quick, log }) {
    if (!DATABASE_URL || !BROKERS || !REDIS_URL) throw new Error('needs DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS and REDIS_URL (source .cache/services.env)');
    const id = `bench_${process.pid.toString(36)}_${Date.now().toString(36)}`;
    const results: BenchResult[] = [];
    const world = buildWorld({ seed: 1 });
    const kafka = new Kafka({ clientId: 'bench', brokers: BROKERS, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const sql = postgres(DATABASE_URL, { onnotice: () => {}, max: 4 });
    const redis = new Redis(REDIS_URL);
    const topics: string[] = [];
    const schemas: string[] = [];
    const slots: EngagementNames[] = [];
    let server: ReturnType<typeof Bun.spawn> | undefined;
    const dataDir = mkdtempSync(join(tmpdir(), 'sillage-bench-eng-'));
    const parts = new Set((env.BENCH_PARTS ?? 'clients,stages,sinks,backfill,eos,e2e').split(','));
    // The REST sink's endpoint, in a process of its own.
    const receiver = Bun.spawn(['bun', 'bench/engagement/receiver-child.ts'], { cwd: ROOT, stdout: 'pipe', stderr: 'inherit' });
    const names = (suffix: string): EngagementNames => ({
      schema: `${id}_${suffix}`, slot: `sillage_${id}_${suffix}`, publication: `sillage_${id}_${suffix}`, eventsTopic: `${id}.${suffix}.events`,
      contentTopic: `${id}.${suffix}.content`, dlqTopic: `${id}.${suffix}.events.dlq`, group: `${id}.${suffix}.processor`,
    });
    try {
      const { value: first } = await receiver.stdout.getReader().read();
      const receiverUrl = (JSON.parse(new TextDecoder().decode(first)) as { url: string }).url;
      const part2: Part2 = { quick, log, id, world, sql, redis, dataDir, receiverUrl, names, schemas, slots, topics, env };
      const n = quick ? 20_000 : 100_000;
      const messages = cdcShaped(world, n);
      if (parts.has('clients')) {
      // ---- Kafka clients: the same records, idempotent producer, acks=all, batches of 1,000
      for (const client of ['kafkajs', 'platformatic'] as const) {
        const topic = `${id}.clients.${client}`;
        topics.push(topic);
        await ensureTopics(admin, [{ topic, partitions: 6 }]);
      }
      log(`kafka clients: producing and consuming ${n} records with each`);
      const kjP = await kafkajsProduce(BROKERS, `${id}.clients.kafkajs`, messages, 1000);
      const plP = await platformaticProduce(BROKERS, `${id}.clients.platformatic`, messages, 1000);
      const kjC = await kafkajsConsume(BROKERS, `${id}.clients.kafkajs`, n);
      const plC = await platformaticConsume(BROKERS, `${id}.clients.platformatic`, n);
      results.push(
        { name: 'Kafka produce, kafkajs (idempotent, acks=all)', value: kjP, unit: 'msg/s', reference: { name: '@platformatic/kafka', value: plP }, higherIsBetter: true, notes: `${n} records of ~${messages[0]!.value.length} B, batches of 1,000` },
        { name: 'Kafka produce, @platformatic/kafka', value: plP, unit: 'msg/s', higherIsBetter: true },
        { name: 'Kafka consume, kafkajs', value: kjC, unit: 'msg/s', reference: { name: '@platformatic/kafka', value: plC }, higherIsBetter: true },
        { name: 'Kafka consume, @platformatic/kafka', value: plC, unit: 'msg/s', higherIsBetter: true },
      );

      }

      // ---- decode + enrich + transform (CPU only, no I/O)
      const catalogue = contentOf(world);
      const records: SourceRecord[] = messages.map((m, i) => ({ topic: 't', partition: 0, offset: String(i), key: Buffer.from(m.key), value: Buffer.from(m.value), headers: m.headers, timestampMs: 0 }));
      let t0 = performance.now();
      const envelopes: Envelope<EngagementEvent>[] = [];
      for (const r of records) {
        const d = decodeEvent(r);
        if (d.ok) envelopes.push({ id: d.id, value: enrich({ ...d.event, content_id: d.event.content_id! }, catalogue.get(d.event.content_id!)!, d.committedAt), record: r });
      }
      results.push({ name: 'decode + enrich + transform (CPU)', value: n / ((performance.now() - t0) / 1000), unit: 'ev/s', higherIsBetter: true });

      if (parts.has('sinks')) results.push(...(await sinkThroughput(part2, envelopes)));
      if (parts.has('backfill')) results.push(...(await backfillThroughput(part2)));
      if (parts.has('eos')) results.push(...(await streamingExactlyOnce(part2)));
      if (parts.has('stages')) {
      // ---- Redis sink alone
      const prefix = `${id}:sink:`;
      const sink = new RedisEngagementSink({ redis, prefix, windowMinutes: 10, clock: systemClock });
      t0 = performance.now();
      for (let i = 0; i < envelopes.length; i += 500) await sink.write(envelopes.slice(i, i + 500));
      results.push({ name: 'Redis sink (Lua, 500 per call)', value: n / ((performance.now() - t0) / 1000), unit: 'ev/s', higherIsBetter: true });

      // ---- CDC: Postgres → relay (no Kafka), then Postgres → relay → Kafka
      const cdcNames = names('cdc');
      schemas.push(cdcNames.schema);
      slots.push(cdcNames);
      topics.push(cdcNames.eventsTopic, cdcNames.contentTopic);
      const pg = openPostgres({ url: DATABASE_URL, schema: cdcNames.schema, migrationsDir: join(ROOT, 'db/postgres'), max: 2 });
      await pg.migrate();
      await prepareReplication(pg.sql, cdcNames);
      await ensureCatalogue(pg.sql, world);
      await ensureTopics(admin, [{ topic: cdcNames.eventsTopic, partitions: 6 }, { topic: cdcNames.contentTopic, partitions: 6, compacted: true }]);
      const quiet = createLogger({ level: 'error', format: 'json' });
      for (const mode of ['decode', 'kafka'] as const) {
        const now = Date.now();
        await copyEvents(pg.sql, spreadEvents(world, n, now - 60_000, now));
        let produced = 0;
        const counting = { publish: async (b: { messages: unknown[] }[]) => void (produced += b.reduce((k, t) => k + t.messages.length, 0)), close: async () => {} };
        const publisher = mode === 'decode' ? counting : await openPublisher(kafka, {});
        const stop = new AbortController();
        t0 = performance.now();
        const relay = runCdcRelay({ databaseUrl: DATABASE_URL, names: cdcNames, publisher, log: quiet, clock: systemClock, heartbeatMs: 1000, onProduced: ({ byTopic }) => mode === 'kafka' && (produced += byTopic[cdcNames.eventsTopic] ?? 0) }, stop.signal);
        const first = world.catalogue.length;
        await Promise.race([untilTrue(async () => produced >= n + (mode === 'decode' ? first : 0), 300_000, `CDC ${mode}`), relay.then(() => Promise.reject(new Error('the relay stopped')))]);
        const rate = n / ((performance.now() - t0) / 1000);
        stop.abort();
        await relay;
        await publisher.close();
        results.push(
          mode === 'decode'
            ? { name: 'CDC: Postgres → relay (pgoutput decode, no Kafka)', value: rate, unit: 'ev/s', higherIsBetter: true, notes: `${n} rows committed by one COPY, read from the slot` }
            : { name: 'CDC: Postgres → relay → Kafka (idempotent)', value: rate, unit: 'ev/s', higherIsBetter: true },
        );
        log(`CDC ${mode}: ${Math.round(rate)} ev/s`);
      }
      await pg.close();
      }
      if (!parts.has('e2e')) return results;

      // ---- End to end through the real server (workers, all three sinks), sustained and latency
      const e2e = names('e2e');
      schemas.push(e2e.schema);
      slots.push(e2e);
      topics.push(e2e.eventsTopic, e2e.contentTopic, e2e.dlqTopic);
      const port = await freePort();
      const serverEnv = {
        ...env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'error', LOG_FORMAT: 'json', ROLE: 'all', DATABASE_SCHEMA: e2e.schema,
        REDIS_KEY_PREFIX: `${id}:e2e:`, KAFKA_TOPIC_ENGAGEMENT_EVENTS: e2e.eventsTopic, KAFKA_TOPIC_CONTENT: e2e.contentTopic, KAFKA_CONSUMER_GROUP: e2e.group,
        CDC_SLOT_NAME: e2e.slot, CDC_PUBLICATION_NAME: e2e.publication, BATCH_SIZE: env.BENCH_BATCH_SIZE ?? '500',
        WAREHOUSE_SCHEMA: `${e2e.schema}_wh`, EXTERNAL_SINK_URL: receiverUrl, ENGAGEMENT_PIPELINE: 'auto', STREAMS_DIR: join(dataDir, 'no-streams'),
        // The latency probe polls /top-content every 5 ms, far above a client's query budget.
        RATE_LIMIT_SEARCH_PER_MINUTE: '1000000',
      };
      schemas.push(`${e2e.schema}_wh`);
      server = Bun.spawn(['bun', 'src/main.ts'], { cwd: ROOT, env: serverEnv, stdout: 'ignore', stderr: 'inherit' });
      const base = `http://127.0.0.1:${port}`;
      await waitUp(`${base}/health`, 30_000);
      const e2eSql = postgres(DATABASE_URL, { onnotice: () => {}, max: 4, connection: { search_path: e2e.schema } });
      await untilTrue(async () => (await e2eSql`SELECT active FROM pg_replication_slots WHERE slot_name = ${e2e.slot}`.catch(() => []))[0]?.active === true, 60_000, 'the CDC relay');
      await ensureCatalogue(e2eSql as never, world);
      const appliedKey = liveKeys(`${id}:e2e:`).applied;
      const applied = async () => Number((await redis.get(appliedKey)) ?? 0);

      const paced = async (rate: number, seconds: number, onTick?: (sent: number) => void) => {
        const drafts = eventDrafts(world);
        const start = performance.now();
        let sent = 0;
        for (let tick = 0; (performance.now() - start) / 1000 < seconds; tick++) {
          const due = Math.floor(((performance.now() - start) / 1000) * rate) - sent;
          if (due > 0) {
            const now = new Date();
            await insertEvents(e2eSql as never, Array.from({ length: due }, () => ({ ...drafts.next().value!, event_ts: now })));
            sent += due;
          }
          onTick?.(sent);
          await Bun.sleep(Math.max(0, start + (tick + 1) * 50 - performance.now()));
        }
        return sent;
      };

      // Sustained: a paced insert rate above the target, for 60 s (15 s quick).
      const target = Number(env.BENCH_RATE ?? 6000);
      const seconds = quick ? 15 : 60;
      log(`sustained: inserting ${target} ev/s for ${seconds} s`);
      const before = await applied();
      let maxBacklog = 0;
      let inserted = 0;
      const sample = setInterval(async () => {
        const a = (await applied()) - before;
        maxBacklog = Math.max(maxBacklog, inserted - a);
      }, 1000);
      const tStart = performance.now();
      inserted = await paced(target, seconds, (sent) => (inserted = sent));
      const insertS = (performance.now() - tStart) / 1000;
      const atInsertEnd = (await applied()) - before;
      await untilTrue(async () => (await applied()) - before >= inserted, 300_000, 'the pipeline to drain', 50);
      clearInterval(sample);
      const totalS = (performance.now() - tStart) / 1000;
      results.push(
        { name: 'end-to-end Postgres insert → Redis applied, sustained', value: inserted / totalS, unit: 'ev/s', target: '≥ 5,000 ev/s for 60 s', reference: { name: 'reference system', value: 1000 }, higherIsBetter: true, notes: `${inserted} events inserted at ${Math.round(inserted / insertS)} ev/s for ${seconds} s; ${atInsertEnd} applied when inserts stopped, all applied after ${totalS.toFixed(1)} s; max backlog ${maxBacklog}; BATCH_SIZE ${serverEnv.BATCH_SIZE}` },
      );
      log(`sustained: ${Math.round(inserted / totalS)} ev/s end to end`);

      // Capacity: a backlog committed at once (COPY), drained as fast as the pipeline goes.
      const backlog = quick ? 50_000 : 200_000;
      const beforeBacklog = await applied();
      const nowMs = Date.now();
      await copyEvents(e2eSql as never, spreadEvents(world, backlog, nowMs - 60_000, nowMs));
      const tBacklog = performance.now();
      await untilTrue(async () => (await applied()) - beforeBacklog >= backlog, 300_000, 'the backlog to drain', 50);
      const drainRate = backlog / ((performance.now() - tBacklog) / 1000);
      results.push({ name: 'end-to-end drain of a committed backlog (capacity)', value: drainRate, unit: 'ev/s', higherIsBetter: true, notes: `${backlog} events committed by one COPY, from commit to the last one applied in Redis` });
      log(`capacity: ${Math.round(drainRate)} ev/s`);

      // Latency at 1,000 ev/s: probe events on a content of their own, polled in /top-content.
      const probe = { id: crypto.randomUUID(), slug: `probe-${id}`, title: 'Latency probe', content_type: 'video', length_seconds: 60, publish_ts: new Date() };
      await e2eSql`INSERT INTO content ${e2eSql(probe)}`;
      const latencies: number[] = [];
      const probeSeconds = quick ? 15 : 40;
      log(`latency: 1,000 ev/s background for ${probeSeconds} s with probes`);
      const background = paced(1000, probeSeconds);
      const stopAt = performance.now() + (probeSeconds - 2) * 1000;
      for (let k = 1; performance.now() < stopAt; k++) {
        await e2eSql`INSERT INTO engagement_events (content_id, user_id, event_type, event_ts, duration_ms) VALUES (${probe.id}, ${world.users[0]!}, 'play', now(), null)`;
        const committed = performance.now();
        await untilTrue(async () => {
          const body = (await (await fetch(`${base}/top-content?limit=100&content_type=video`)).json()) as { items: { content_id: string; events: number }[] };
          return (body.items.find((i) => i.content_id === probe.id)?.events ?? 0) >= k;
        }, 30_000, `probe ${k}`, 5);
        latencies.push(performance.now() - committed);
        await Bun.sleep(100);
      }
      await background;
      results.push(
        { name: 'commit → visible in /top-content at 1,000 ev/s, p50', value: pct(latencies, 50), unit: 'ms', higherIsBetter: false, notes: `${latencies.length} probes, polled every 5 ms` },
        { name: 'commit → visible in /top-content at 1,000 ev/s, p99', value: pct(latencies, 99), unit: 'ms', target: 'p99 < 1,000 ms', reference: { name: 'reference system p99', value: 5000 }, higherIsBetter: false, notes: `max ${Math.round(Math.max(...latencies))} ms` },
      );
      await e2eSql.end();
      return results;
    } finally {
      if (server) {
        server.kill('SIGTERM');
        await server.exited;
      }
      receiver.kill('SIGTERM');
      await receiver.exited;
      for (const s of slots) await dropReplication(sql, s).catch((e) => log(`cleanup: ${e.message}`));
      for (const s of schemas) await sql.unsafe(`DROP SCHEMA IF EXISTS "${s}" CASCADE`).catch(() => {});
      const existing = new Set(await admin.listTopics());
      const drop = [...new Set(topics)].filter((t) => existing.has(t));
      if (drop.length) await admin.deleteTopics({ topics: drop }).catch(() => {});
      const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(id));
      if (groups.length) await admin.deleteGroups(groups).catch(() => {});
      await admin.disconnect();
      await deleteKeys(redis, `${id}:`);
      redis.disconnect();
      await sql.end();
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
};
export default bench;
