import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ensureTopic, produceScenario } from '../features/streams/producer.ts';
import { SCENARIOS } from '../features/streams/scenarios.ts';
import { durationMs } from '../features/streams/spec.ts';
import { systemClock } from '../platform/clock.ts';
import { cliConfig, fail as failWith } from './common.ts';
import { createLogger } from '../platform/log.ts';
import { openKafka } from '../platform/stores/kafka.ts';

/**
 * bun run produce -- --scenario ticks|sensors|requests --rate N --duration 60s
 *                    [--late-fraction 0.05] [--disorder-ms 2000] [--late-ms 20000] [--seed S] [--topic T]
 *                    [--partitions N] [--keys N] [--start ISO] [--fast]
 * Feeds the example stream jobs. The same seed and start give the same records. --fast sends as quickly as
 * possible with event times from --start (default: now minus the duration) instead of pacing at --rate from now.
 */
const usage =
  'Usage: bun run produce -- --scenario ticks|sensors|requests --rate N --duration 60s [--late-fraction 0.05 --disorder-ms 2000 --late-ms 20000] [--seed S] [--topic T] [--partitions N] [--keys N] [--start ISO] [--fast]';

const Args = z.object({
  scenario: z.enum(SCENARIOS, { error: `must be one of ${SCENARIOS.join(', ')}` }),
  rate: z.coerce.number({ error: 'must be a number of records per second' }).positive('must be positive').max(1_000_000, 'must be at most 1000000'),
  duration: z.string({ error: 'is required, e.g. 60s or 10m' }).refine((d) => (durationMs(d) ?? 0) > 0, 'must be a duration such as 60s or 10m'),
  'late-fraction': z.coerce.number().min(0).max(1, 'must be between 0 and 1').default(0),
  'disorder-ms': z.coerce.number().int().min(0, 'must be ≥ 0').default(0),
  'late-ms': z.coerce.number().int().min(0, 'must be ≥ 0').default(20_000),
  seed: z.coerce.number().int().default(() => Math.floor(Math.random() * 2 ** 31)),
  topic: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/, 'must be a Kafka topic name (letters, digits, . _ -)').optional(),
  partitions: z.coerce.number().int().min(1).max(1000).optional(),
  keys: z.coerce.number().int().min(1).max(100_000).optional(),
  start: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO-8601 time').optional(),
  fast: z.boolean().default(false),
});

function fail(message: string): never {
  return failWith(`${message}\n${usage}`);
}

let raw;
try {
  raw = parseArgs({
    args: Bun.argv.slice(2).filter((a) => a !== '--'),
    options: Object.fromEntries(Object.keys(Args.shape).map((k) => [k, { type: k === 'fast' ? 'boolean' : 'string' }])) as Record<string, { type: 'string' | 'boolean' }>,
    strict: true,
  }).values;
} catch (e) {
  fail((e as Error).message);
}
const parsed = Args.safeParse(raw);
if (!parsed.success) fail(parsed.error.issues.map((i) => `--${String(i.path[0])} ${i.message}`).join('\n'));
const args = parsed.data;

const config = cliConfig('produce');
if (!config.KAFKA_BOOTSTRAP_SERVERS) fail('KAFKA_BOOTSTRAP_SERVERS is not set. Example: KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 bun run produce -- …');

const log = createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT }).child({ component: 'produce' });
const kafka = openKafka({ brokers: config.KAFKA_BOOTSTRAP_SERVERS, clientId: 'sillage-produce', log });
const topic = args.topic ?? args.scenario;
const duration = durationMs(args.duration)!;
const startMs = args.start ? Date.parse(args.start) : args.fast ? Date.now() - duration : Date.now();
const controller = new AbortController();
process.on('SIGINT', () => controller.abort());
process.on('SIGTERM', () => controller.abort());

if (await ensureTopic(kafka.kafka, topic, args.partitions ?? config.KAFKA_TOPIC_PARTITIONS)) log.info('topic created', { topic });
log.info('producing', { scenario: args.scenario, topic, rate: args.rate, duration: args.duration, seed: args.seed, start: new Date(startMs).toISOString(), fast: args.fast });
let lastReport = Date.now();
const summary = await produceScenario(
  kafka.kafka,
  {
    scenario: args.scenario,
    topic,
    seed: args.seed,
    ratePerSec: args.rate,
    durationMs: duration,
    startMs,
    lateFraction: args['late-fraction'],
    disorderMs: args['disorder-ms'],
    lateMs: args['late-ms'],
    keys: args.keys,
    fast: args.fast,
    signal: controller.signal,
    onProgress: (sent) => {
      if (Date.now() - lastReport >= 5000) {
        lastReport = Date.now();
        log.info('progress', { sent });
      }
    },
  },
  systemClock,
);
console.log(JSON.stringify({ ...summary, seed: args.seed }));
await kafka.close();
