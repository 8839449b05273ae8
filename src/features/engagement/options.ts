import { join } from 'node:path';
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
  warehouse: WarehouseOptions;
  /** The REST sink; absent = disabled. */
  rest?: RestOptions;
  tracing: { endpoint?: string; serviceName: string };
  log: { level: Level; format: 'auto' | 'json' | 'pretty' };
};

export type WarehouseOptions = {
  kind: 'postgres' | 'duckdb' | 'bigquery';
  databaseUrl?: string;
  schema: string;
  duckdbPath: string;
  flushIntervalMs: number;
  bigquery?: { projectId: string; datasetId: string; apiUrl: string; credentialsFile?: string };
};

export type RestOptions = {
  url: string;
  token?: string;
  timeoutMs: number;
  retries: number;
  breakerFailures: number;
  breakerCooldownMs: number;
  gzipAboveBytes: number;
};

export function warehouseOptions(config: Config): WarehouseOptions {
  return {
    kind: config.warehouse,
    databaseUrl: config.DATABASE_URL,
    schema: config.WAREHOUSE_SCHEMA,
    duckdbPath: join(config.dataDir, 'warehouse.duckdb'),
    flushIntervalMs: config.WAREHOUSE_FLUSH_INTERVAL_MS,
    bigquery:
      config.BIGQUERY_PROJECT_ID && config.BIGQUERY_DATASET_ID
        ? { projectId: config.BIGQUERY_PROJECT_ID, datasetId: config.BIGQUERY_DATASET_ID, apiUrl: config.BIGQUERY_API_URL, credentialsFile: config.GOOGLE_APPLICATION_CREDENTIALS }
        : undefined,
  };
}

export function restOptions(config: Config): RestOptions | undefined {
  if (!config.EXTERNAL_SINK_URL) return undefined;
  return {
    url: config.EXTERNAL_SINK_URL,
    token: config.EXTERNAL_SINK_TOKEN,
    timeoutMs: config.EXTERNAL_SINK_TIMEOUT_MS,
    retries: config.EXTERNAL_SINK_RETRIES,
    breakerFailures: config.EXTERNAL_SINK_BREAKER_FAILURES,
    breakerCooldownMs: config.EXTERNAL_SINK_BREAKER_COOLDOWN_MS,
    gzipAboveBytes: config.EXTERNAL_SINK_GZIP_BYTES,
  };
}

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
    warehouse: warehouseOptions(config),
    rest: restOptions(config),
    tracing: { endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: config.OTEL_SERVICE_NAME },
    log: { level: config.LOG_LEVEL, format: config.LOG_FORMAT },
  };
}
