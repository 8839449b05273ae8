import type { Config } from '../../platform/config.ts';
import type { Level } from '../../platform/log.ts';
import { engagementNames, type EngagementNames } from './names.ts';

/** Everything a pipeline worker needs to build its own connections (workers share no objects with the app). */
export type PipelineOptions = {
  databaseUrl: string;
  names: EngagementNames;
  brokers: string[];
  redisUrl: string;
  redisPrefix: string;
  windowMinutes: number;
  batchSize: number;
  intervalMs: number;
  partitions: number;
  exactlyOnce: boolean;
  heartbeatMs: number;
  log: { level: Level; format: 'auto' | 'json' | 'pretty' };
};

export function pipelineOptions(config: Config): PipelineOptions {
  if (!config.DATABASE_URL || !config.KAFKA_BOOTSTRAP_SERVERS || !config.REDIS_URL)
    throw new Error('The engagement pipeline needs DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS and REDIS_URL. Example: DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres');
  return {
    databaseUrl: config.DATABASE_URL,
    names: engagementNames(config),
    brokers: config.KAFKA_BOOTSTRAP_SERVERS,
    redisUrl: config.REDIS_URL,
    redisPrefix: config.REDIS_KEY_PREFIX,
    windowMinutes: config.REDIS_AGGREGATION_WINDOW_MINUTES,
    batchSize: config.BATCH_SIZE,
    intervalMs: Math.round(config.PROCESSING_INTERVAL_SECONDS * 1000),
    partitions: config.KAFKA_TOPIC_PARTITIONS,
    exactlyOnce: config.ENABLE_EXACTLY_ONCE,
    heartbeatMs: config.CDC_HEARTBEAT_SECONDS * 1000,
    log: { level: config.LOG_LEVEL, format: config.LOG_FORMAT },
  };
}
