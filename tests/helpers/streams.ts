import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import postgres from 'postgres';
import Redis from 'ioredis';
import { compileSchema, parseRecords, type ParsedRecord } from '../../src/features/streams/parse.ts';
import { ensureTopic, produceScenario } from '../../src/features/streams/producer.ts';
import { runJob, type JobEvent, type JobRunOptions, type JobRuntimeStatus } from '../../src/features/streams/runner.ts';
import { generate, type GenerateOptions } from '../../src/features/streams/scenarios.ts';
import { loadSpecFiles, validateSpec, type JobSpec } from '../../src/features/streams/spec.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { memoryLogger } from '../../src/platform/log.ts';
import { ROOT, services, uniqueName } from './index.ts';
import { deleteKeys } from './redis.ts';

/**
 * Removes one private corner of the shared services (the topics it made, the schema `id`, the Redis keys under
 * `id:`) and closes its clients.
 */
export async function removeCorner({ id, kafka, sql, redis, topics }: { id: string; kafka: Kafka; sql: postgres.Sql; redis: Redis; topics: string[] }) {
  const admin = kafka.admin();
  await admin.connect();
  const existing = await admin.listTopics();
  await admin.deleteTopics({ topics: topics.filter((t) => existing.includes(t)) }).catch(() => {});
  await admin.disconnect();
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${id} CASCADE`);
  await sql.end();
  await deleteKeys(redis, `${id}:`);
  redis.disconnect();
}

/** A private corner of the shared services for one test file: its own schema, topic prefix and Redis prefix. */
export function streamServices() {
  const id = uniqueName('st');
  const kafka = new Kafka({ clientId: id, brokers: services.kafka!, logLevel: logLevel.NOTHING });
  const sql = postgres(services.postgres!, { max: 2, onnotice: () => {}, connection: { search_path: id } });
  const redis = new Redis(services.redis!);
  const topics: string[] = [];
  return {
    id,
    schema: id,
    redisPrefix: `${id}:`,
    kafka,
    sql,
    redis,
    topic(name: string) {
      const t = `${id}.${name}`;
      topics.push(t);
      return t;
    },
    jobOptions(spec: JobSpec, commitIntervalMs = 200): JobRunOptions {
      return { spec, postgres: { url: services.postgres!, schema: id }, kafka: { brokers: services.kafka! }, redis: { url: services.redis!, prefix: `${id}:` }, commitIntervalMs };
    },
    env(): Record<string, string> {
      return { DATABASE_URL: services.postgres!, DATABASE_SCHEMA: id, KAFKA_BOOTSTRAP_SERVERS: services.kafka!.join(','), REDIS_URL: services.redis!, REDIS_KEY_PREFIX: `${id}:` };
    },
    cleanup: () => removeCorner({ id, kafka, sql, redis, topics }),
  };
}
export type StreamServices = ReturnType<typeof streamServices>;

/** An example job from streams/, renamed and pointed at a test topic. */
export function exampleSpec(name: string, topic: string, patch: Record<string, unknown> = {}): JobSpec {
  const file = loadSpecFiles(join(ROOT, 'streams')).find((f) => f.spec?.name === name);
  if (!file?.spec) throw new Error(`no example job ${name}`);
  return validateSpec({ ...file.spec, ...patch, name: `${name}_${Math.random().toString(36).slice(2, 8)}`, source: { ...file.spec.source, topic } });
}

/** The records a scenario produces, parsed with the job's schema as the engine would (offsets = send order). */
export function expectedRecords(spec: JobSpec, options: GenerateOptions): ParsedRecord[] {
  const raw = [...generate(options)].map((r, i) => ({ partition: 0, offset: i, value: JSON.stringify(r.value) }));
  return parseRecords(raw, compileSchema(spec)).records;
}

export async function produce(s: StreamServices, topic: string, options: GenerateOptions, partitions = 3) {
  await ensureTopic(s.kafka, topic, partitions);
  return produceScenario(s.kafka, { ...options, topic, fast: true }, systemClock);
}

/**
 * Produces a scenario in chunks, calling `between` after each one (e.g. to wait until the job has read it), so
 * windows get emitted before the late records that revise them arrive.
 */
export async function produceInChunks(s: StreamServices, topic: string, options: GenerateOptions, chunk: number, between: (sent: number) => Promise<unknown>) {
  const producer = s.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  let sent = 0;
  let late = 0;
  try {
    let batch: { key: string; value: string }[] = [];
    const flush = async () => {
      await producer.send({ topic, acks: -1, messages: batch });
      sent += batch.length;
      batch = [];
      await between(sent);
    };
    for (const r of generate(options)) {
      batch.push({ key: r.key, value: JSON.stringify(r.value) });
      if (r.late) late++;
      if (batch.length === chunk) await flush();
    }
    if (batch.length) await flush();
  } finally {
    await producer.disconnect();
  }
  return { records: sent, late };
}

/** Runs a job in this process; stop() asks it to stop like the supervisor would, and waits. */
export function runInProcess(options: JobRunOptions) {
  const controller = new AbortController();
  const log = memoryLogger('info');
  let status: JobRuntimeStatus | undefined;
  const events: JobEvent[] = [];
  const done = runJob(options, { signal: controller.signal, clock: systemClock, log, emit: (e) => events.push(e), setState: (s) => (status = s) });
  done.catch(() => {});
  return {
    log,
    events,
    status: () => status,
    done,
    async stop() {
      controller.abort();
      await done;
    },
  };
}

/** Sum of stored next offsets of a job, i.e. how many records it has durably consumed (offsets start at 0). */
export async function storedPosition(s: StreamServices, job: string): Promise<number> {
  const [row] = await s.sql<{ n: string | null }[]>`SELECT sum(next_offset) AS n FROM stream_offsets WHERE job = ${job}`.catch(() => [{ n: null }]);
  return Number(row?.n ?? 0);
}

export type ResultRowOut = { key: string; start: number; end: number; records: number; values: Record<string, number | null> };

export async function storedResults(s: StreamServices, job: string): Promise<Map<string, ResultRowOut & { revision: number; alerts: string[] }>> {
  const rows = await s.sql<{ key: string; s: string; e: string; records: string; result: Record<string, number | null>; revision: number; alerts: string[] }[]>`
    SELECT key, extract(epoch FROM window_start) * 1000 AS s, extract(epoch FROM window_end) * 1000 AS e, records, result, revision, alerts FROM stream_results WHERE job = ${job}`;
  return new Map(rows.map((r) => [`${r.key}@${Math.round(Number(r.s))}`, { key: r.key, start: Math.round(Number(r.s)), end: Math.round(Number(r.e)), records: Number(r.records), values: r.result, revision: r.revision, alerts: r.alerts }]));
}
