import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import Redis from 'ioredis';
import { Kafka, logLevel, AssignerProtocol } from 'kafkajs';
import postgres from 'postgres';
import { services, skipReason, tempDir, waitFor } from '../helpers/index.ts';
import { startRestReceiver, type RestReceiver } from '../helpers/rest-receiver.ts';
import { generate, PipelineProcess } from '../faults/processes.ts';
import { partitionLag, printTable, sinkCounts } from '../faults/verify.ts';
import { cleanupPipeline, pipelineEnv, waitForCdc } from './engagement-fixture.ts';

setDefaultTimeout(120_000);

/** Members of the group and the partitions each holds. */
async function membership(group: string) {
  const admin = new Kafka({ clientId: 'scale-out-test', brokers: services.kafka!, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([group]);
    return (groups[0]?.members ?? []).map((m) => {
      const a = AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
      return Object.values(a?.assignment ?? {}).flat().length;
    });
  } finally {
    await admin.disconnect();
  }
}

describe.skipIf(!!skipReason('postgres', 'kafka', 'redis'))('two processor processes in one consumer group', () => {
  const dir = tempDir('sillage-scale-');
  const { env, names } = pipelineEnv({ KAFKA_TOPIC_PARTITIONS: '6', BATCH_SIZE: '100', REDIS_AGGREGATION_WINDOW_MINUTES: '60', CDC_HEARTBEAT_SECONDS: '1' });
  let receiver: RestReceiver;
  let cdc: PipelineProcess;
  let a: PipelineProcess;
  let b: PipelineProcess;
  let sql: postgres.Sql;
  let redis: Redis;

  beforeAll(async () => {
    receiver = await startRestReceiver();
    const processEnv = { ...env, EXTERNAL_SINK_URL: receiver.url, DATA_DIR: dir.path };
    cdc = new PipelineProcess('cdc', { jobs: 'cdc', env: processEnv, logDir: dir.path });
    a = new PipelineProcess('processor-a', { jobs: 'processor', env: processEnv, logDir: dir.path });
    b = new PipelineProcess('processor-b', { jobs: 'processor', env: processEnv, logDir: dir.path });
    cdc.start();
    a.start();
    b.start();
    sql = postgres(services.postgres!, { onnotice: () => {}, max: 2 });
    redis = new Redis(services.redis!);
    await waitForCdc(sql, names);
    await waitFor(async () => {
      const m = await membership(names.group);
      return m.length === 2 && m.every((n) => n === 3);
    }, { timeoutMs: 60_000, what: 'both processors to hold three partitions each' });
  }, 120_000);

  afterAll(async () => {
    try {
      await Promise.allSettled([a?.stop(), b?.stop(), cdc?.stop()]);
      await sql?.end();
      redis?.disconnect();
      await receiver?.close();
    } finally {
      await cleanupPipeline(names, env.REDIS_KEY_PREFIX!);
      dir[Symbol.dispose]();
    }
  }, 60_000);

  test('killing one (kill -9) hands its partitions to the other, with nothing lost and nothing counted twice', async () => {
    let written = 0;
    const generating = generate({
      url: services.postgres!,
      schema: names.schema,
      total: 3000,
      chunk: 50,
      intervalMs: 50,
      seed: 3,
      noContentEvery: 1_000_000,
      restPoisonEvery: 1_000_000,
      signal: new AbortController().signal,
      onProgress: (w) => (written = w),
    });
    await waitFor(() => written >= 1000, { timeoutMs: 60_000, what: '1,000 events written' });
    await a.kill9();
    expect(await generating).toBe(3000);
    await waitFor(async () => {
      const m = await membership(names.group);
      return m.length === 1 && m[0] === 6;
    }, { timeoutMs: 60_000, what: 'the surviving processor to take all six partitions' });
    await waitFor(async () => (await partitionLag(services.kafka!, names.group, names.eventsTopic)).every((p) => p.lag === 0) && receiver.applied.size === 3000, {
      timeoutMs: 90_000,
      what: 'every partition committed to its end',
    });
    const { counts, redisTotal, warehouseTotal } = await sinkCounts({
      sql,
      schema: names.schema,
      warehouseSchema: `${names.schema}_wh`,
      redis,
      prefix: env.REDIS_KEY_PREFIX!,
      receiver,
      restPoison: () => false,
    });
    printTable('scale-out: per-sink counts after killing one of two processors', counts, [`redis aggregate total ${redisTotal} = warehouse total ${warehouseTotal}`]);
    for (const c of counts) expect({ sink: c.sink, expected: c.expected, lost: c.lost, duplicated: c.duplicated, unexpected: c.unexpected }).toEqual({ sink: c.sink, expected: 3000, lost: 0, duplicated: 0, unexpected: 0 });
    expect(redisTotal).toBe(warehouseTotal);
  });
});
