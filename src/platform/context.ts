import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Clock, systemClock } from './clock.ts';
import { roleRuns, type Config, type RolePart } from './config.ts';
import { Health } from './health.ts';
import { createLogger, type Logger } from './log.ts';
import { Metrics } from './metrics.ts';
import { openDuckDB, type DuckStore } from './stores/duckdb.ts';
import { openKafka, type KafkaStore } from './stores/kafka.ts';
import { checkLake, lakeLocation, type LakeLocation } from './stores/lake.ts';
import { openPostgres, type PostgresStore } from './stores/postgres.ts';
import { openRedis, type RedisStore } from './stores/redis.ts';
import { openSqlite, type SqliteStore } from './stores/sqlite.ts';
import { WorkerSupervisor } from './workers/supervisor.ts';
import { rateLimiter } from './http/ratelimit.ts';
import { createTracing, type Tracing } from './tracing.ts';

/** Repository root, so migrations and seed files resolve the same way from src/, tests/ and a container. */
export const ROOT = resolve(import.meta.dir, '../..');

export type Stores = {
  sqlite: SqliteStore;
  duckdb: DuckStore;
  lake: LakeLocation;
  postgres?: PostgresStore;
  redis?: RedisStore;
  kafka?: KafkaStore;
};

/** Everything a feature needs, built once from the validated config and handed to every plugin. */
export type AppContext = {
  config: Config;
  log: Logger;
  clock: Clock;
  metrics: Metrics;
  tracing: Tracing;
  health: Health;
  stores: Stores;
  workers: WorkerSupervisor;
  /** Whether this process runs a part: ROLE=all runs everything, otherwise only the listed parts (one image, several roles). */
  runs(part: RolePart): boolean;
  /** `beforeHandle` guards limiting requests per client: `search` for queries, `mutations` for writes. */
  limits: { search: ReturnType<typeof rateLimiter>; mutations: ReturnType<typeof rateLimiter> };
  /**
   * Aborted when shutdown begins, before the server stops accepting: long-lived responses (SSE feeds) end on it,
   * so the graceful stop does not wait for them.
   */
  stopping: AbortSignal;
  beginShutdown(): void;
  /** Things to run on shutdown after workers stopped, newest first (features add their own). */
  onClose(fn: () => Promise<void> | void): void;
  close(): Promise<void>;
};

export type ContextOptions = { log?: Logger; clock?: Clock; healthCacheMs?: number };

export async function createContext(config: Config, options: ContextOptions = {}): Promise<AppContext> {
  const log = options.log ?? createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT });
  const clock = options.clock ?? systemClock;
  mkdirSync(config.dataDir, { recursive: true });

  const sqlite = openSqlite({ path: join(config.dataDir, 'sillage.db'), migrationsDir: join(ROOT, 'db/sqlite') });
  // The shared DuckDB is for ad-hoc, in-process analytics; features that keep DuckDB files (the lake query
  // engine, the DuckDB warehouse) open their own. Locked down: no files, no network, no extension downloads,
  // and no query can change that.
  const duckdb = await openDuckDB({
    path: ':memory:',
    settings: { enable_external_access: 'false', autoinstall_known_extensions: 'false', autoload_known_extensions: 'false', lock_configuration: 'true' },
  });
  const lake = lakeLocation(config);
  const postgres = config.DATABASE_URL
    ? openPostgres({ url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, migrationsDir: join(ROOT, 'db/postgres'), statementTimeoutMs: config.PG_STATEMENT_TIMEOUT_MS })
    : undefined;
  const redis = config.REDIS_URL ? openRedis({ url: config.REDIS_URL, prefix: config.REDIS_KEY_PREFIX }) : undefined;
  const kafka = config.KAFKA_BOOTSTRAP_SERVERS ? openKafka({ brokers: config.KAFKA_BOOTSTRAP_SERVERS, clientId: 'sillage', log }) : undefined;
  const stores: Stores = { sqlite, duckdb, lake, postgres, redis, kafka };

  const health = new Health({ cacheMs: options.healthCacheMs });
  health.register({ name: 'sqlite', check: sqlite.check });
  health.register({ name: 'duckdb', check: duckdb.check });
  health.register({ name: 'lake', check: () => checkLake(lake) });
  health.register({ name: 'postgres', check: postgres?.check, disabledReason: 'set DATABASE_URL to enable' });
  health.register({ name: 'kafka', check: kafka?.check, disabledReason: 'set KAFKA_BOOTSTRAP_SERVERS to enable' });
  health.register({ name: 'redis', check: redis?.check, disabledReason: 'set REDIS_URL to enable' });

  const workers = new WorkerSupervisor({ log, clock });
  health.workers = () => workers.statuses();

  const tracing = await createTracing({ endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: config.OTEL_SERVICE_NAME });
  const closers: (() => Promise<void> | void)[] = [() => tracing.shutdown()];
  const stopping = new AbortController();
  let closing: Promise<void> | undefined;
  return {
    config,
    log,
    clock,
    metrics: new Metrics(),
    tracing,
    health,
    stores,
    workers,
    runs: (part) => roleRuns(config.ROLE, part),
    limits: {
      search: rateLimiter({ perMinute: config.RATE_LIMIT_SEARCH_PER_MINUTE, clock }),
      mutations: rateLimiter({ perMinute: config.RATE_LIMIT_MUTATIONS_PER_MINUTE, clock }),
    },
    stopping: stopping.signal,
    beginShutdown: () => stopping.abort(new Error('shutting down')),
    onClose: (fn) => void closers.push(fn),
    close: () =>
      (closing ??= (async () => {
        stopping.abort(new Error('shutting down'));
        await workers.stopAll();
        for (const fn of closers.reverse()) await fn();
        await Promise.allSettled([kafka?.close(), redis?.close(), postgres?.close()]);
        await duckdb.close();
        await sqlite.close();
      })()),
  };
}
