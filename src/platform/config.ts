import { resolve } from 'node:path';
import { z } from 'zod';

/**
 * The service's whole configuration. Every variable is declared once here with its rule, default and an example;
 * the same table drives validation, the error message at start-up and the README's configuration section.
 * The environment is read nowhere else.
 */

type Spec<T> = {
  schema: z.ZodType<T>;
  rule: string;
  example: string;
  doc: string;
  /** Default as the user would type it (also shown in docs); undefined = unset. */
  default?: string;
  secret?: boolean;
};

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^-?\d+$/)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const positiveNumber = z
  .string()
  .regex(/^\d+(\.\d+)?$/)
  .transform(Number)
  .pipe(z.number().positive());

const bool = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no']))
  .transform((s) => s === 'true' || s === '1' || s === 'yes');

const httpUrl = z.url({ protocol: /^https?$/ });

const lakeUrl = z
  .string()
  .refine((s) => /^file:\/\/.+/.test(s) || /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(s));

const kafkaBrokers = z
  .string()
  .refine((s) => s.split(',').every((b) => /^[A-Za-z0-9_.-]+:\d{1,5}$/.test(b.trim())))
  .transform((s) => s.split(',').map((b) => b.trim()));

export const ROLE_PARTS = ['api', 'processor', 'ingest'] as const;
export type RolePart = (typeof ROLE_PARTS)[number];

/** `all` or a list of parts; kept as written (deduplicated), so messages can echo `ROLE=api,ingest`. */
const roleList = z
  .string()
  .transform((s) => [...new Set(s.split(',').map((p) => p.trim().toLowerCase()))])
  .superRefine((parts, ctx) => {
    const unknown = parts.filter((p) => p !== 'all' && !(ROLE_PARTS as readonly string[]).includes(p));
    if (unknown.length) ctx.addIssue({ code: 'custom', params: { explain: true }, message: `unknown part${unknown.length > 1 ? 's' : ''} ${unknown.map((p) => JSON.stringify(p)).join(', ')}` });
  })
  .transform((parts) => (parts.includes('all') ? ['all'] : parts) as ('all' | RolePart)[]);

/** Whether a ROLE value runs a part (`all` runs every part). */
export const roleRuns = (role: readonly ('all' | RolePart)[], part: RolePart) => role.includes('all') || role.includes(part);

const postgresUrl = z.string().refine((s) => /^postgres(ql)?:\/\//.test(s));
const redisUrl = z.string().refine((s) => /^rediss?:\/\//.test(s));
const identifier = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/);
const topicName = z.string().regex(/^[A-Za-z0-9._-]{1,200}$/);

export const specs = {
  PORT: { schema: int(1, 65535), rule: 'an integer from 1 to 65535', example: '8000', default: '8000', doc: 'HTTP port' },
  HOST: { schema: z.string().min(1), rule: 'a host name or IP address', example: '0.0.0.0', default: '0.0.0.0', doc: 'address the HTTP server binds to' },
  DATA_DIR: { schema: z.string().min(1), rule: 'a directory path', example: './data', default: './data', doc: 'SQLite file, local lake, caches' },
  LOG_LEVEL: { schema: z.enum(['debug', 'info', 'warn', 'error']), rule: 'one of debug, info, warn, error', example: 'info', default: 'info', doc: 'lowest level written to the log' },
  LOG_FORMAT: { schema: z.enum(['auto', 'json', 'pretty']), rule: 'one of auto, json, pretty', example: 'json', default: 'auto', doc: '`auto` = human-readable on a terminal, JSON lines otherwise' },
  ROLE: { schema: roleList, rule: 'all, or a comma-separated list of api, processor, ingest', example: 'api,ingest', default: 'all', doc: 'which parts this process runs (one image, several roles): `api` serves the API and runs the stream jobs (their control and live feed are in-process), `processor` the engagement pipeline, `ingest` GDELT ingestion and the ETL schedule; every process serves `/health` and `/metrics`' },
  ETL_SOURCE_URL: { schema: httpUrl, rule: 'an http(s) URL', example: 'https://jsonplaceholder.typicode.com/posts', default: 'https://jsonplaceholder.typicode.com/posts', doc: 'ETL source' },
  ETL_SCHEDULE_MINUTES: { schema: int(1, 10080), rule: 'an integer number of minutes from 1 to 10080', example: '60', doc: 'run the ETL inside the server every N minutes; unset = only on demand' },
  ETL_PAGE_SIZE: { schema: int(0, 100000), rule: 'an integer from 0 to 100000', example: '1000', default: '1000', doc: 'records asked for per page with `_page`/`_limit` (`Link` and `X-Total-Count` are followed); 0 = one request for everything' },
  ETL_TIMEOUT_MS: { schema: int(100, 600000), rule: 'an integer number of milliseconds from 100 to 600000', example: '10000', default: '10000', doc: 'longest wait for one request to the ETL source, body included' },
  ETL_MAX_RESPONSE_BYTES: { schema: int(1024, 2147483647), rule: 'an integer number of bytes from 1024 to 2147483647', example: '16777216', default: '16777216', doc: 'largest response (one page) accepted from the ETL source' },
  ETL_RETRIES: { schema: int(0, 10), rule: 'an integer from 0 to 10', example: '3', default: '3', doc: 'retries of a source request after a network error, timeout, 5xx, 408 or 429' },
  ETL_RETRY_BASE_DELAY_MS: { schema: int(1, 60000), rule: 'an integer number of milliseconds from 1 to 60000', example: '500', default: '500', doc: 'first backoff before a retry (doubles each time, full jitter, at most 30 s; a `Retry-After` wins)' },
  GDELT_BASE_URL: { schema: httpUrl, rule: 'an http(s) URL without a trailing file name', example: 'http://data.gdeltproject.org/gdeltv2', default: 'http://data.gdeltproject.org/gdeltv2', doc: 'where `lastupdate.txt` and `masterfilelist.txt` live; batch files are fetched from here too' },
  GDELT_POLL_MINUTES: { schema: int(1, 1440), rule: 'an integer number of minutes from 1 to 1440', example: '15', doc: 'poll `lastupdate.txt` and ingest new batches; unset = only on demand' },
  GDELT_TABLES: { schema: z.string().regex(/^(events|mentions)(,(events|mentions))*$/).transform((s) => [...new Set(s.split(','))] as ('events' | 'mentions')[]), rule: 'a comma-separated subset of events, mentions', example: 'events,mentions', default: 'events,mentions', doc: 'GDELT tables landed in the lake' },
  GDELT_DOWNLOAD_TIMEOUT_SECONDS: { schema: int(1, 3600), rule: 'an integer number of seconds from 1 to 3600', example: '60', default: '60', doc: 'timeout of one GDELT download attempt (retried with backoff)' },
  GDELT_QUERY_TIMEOUT_MS: { schema: int(100, 600_000), rule: 'an integer number of milliseconds from 100 to 600000', example: '10000', default: '10000', doc: 'deadline of one lake query; DuckDB is interrupted when it passes' },
  LAKE_URL: { schema: lakeUrl, rule: 'file://<path> or s3://<bucket>[/prefix]', example: 's3://my-bucket/gdelt', doc: 'where the Parquet lake lives (default `file://$DATA_DIR/lake`)' },
  S3_ENDPOINT: { schema: httpUrl, rule: 'an http(s) URL', example: 'http://127.0.0.1:9000', doc: 'S3-compatible endpoint (unset = AWS)' },
  S3_ACCESS_KEY_ID: { schema: z.string().min(1), rule: 'a non-empty string', example: 'AKIA…', doc: 'S3 access key', secret: true },
  S3_SECRET_ACCESS_KEY: { schema: z.string().min(1), rule: 'a non-empty string', example: 'wJalr…', doc: 'S3 secret key', secret: true },
  S3_REGION: { schema: z.string().regex(/^[a-z0-9-]+$/), rule: 'a region name', example: 'us-east-1', default: 'us-east-1', doc: 'S3 region' },
  DATABASE_URL: { schema: postgresUrl, rule: 'a postgres:// URL', example: 'postgres://postgres@127.0.0.1:5432/postgres', doc: 'Postgres (engagement source, stream results)', secret: true },
  DATABASE_SCHEMA: { schema: identifier, rule: 'a lower-case SQL identifier', example: 'public', default: 'public', doc: 'Postgres schema for the service tables' },
  PG_STATEMENT_TIMEOUT_MS: { schema: int(100, 3_600_000), rule: 'an integer number of milliseconds from 100', example: '30000', default: '30000', doc: 'longest a Postgres statement of the API may run (queries behind HTTP routes); pipeline workers have their own connections' },
  KAFKA_BOOTSTRAP_SERVERS: { schema: kafkaBrokers, rule: 'comma-separated host:port pairs', example: '127.0.0.1:9092', doc: 'Kafka brokers' },
  KAFKA_TOPIC_ENGAGEMENT_EVENTS: { schema: topicName, rule: 'a Kafka topic name (letters, digits, . _ -)', example: 'engagement-events', default: 'engagement-events', doc: 'engagement topic' },
  KAFKA_TOPIC_CONTENT: { schema: topicName, rule: 'a Kafka topic name (letters, digits, . _ -)', example: 'content', default: 'content', doc: 'compacted topic of content rows (keyed by id), fed by CDC, read by the processor for enrichment' },
  KAFKA_CONSUMER_GROUP: { schema: topicName, rule: 'a Kafka group id (letters, digits, . _ -)', example: 'sillage-engagement', default: 'sillage-engagement', doc: 'consumer group of the engagement processor (instances sharing it share the partitions)' },
  ENGAGEMENT_PIPELINE: { schema: z.enum(['auto', 'off']), rule: 'auto or off', example: 'off', default: 'auto', doc: '`auto` runs the CDC relay and processor when DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS and REDIS_URL are set and ROLE is all or includes processor; `off` never runs them in this process (the monitoring API still reads Redis)' },
  CDC_SLOT_NAME: { schema: identifier, rule: 'a lower-case SQL identifier', example: 'sillage_public', doc: 'durable logical replication slot of the CDC relay (default `sillage_<DATABASE_SCHEMA>`)' },
  CDC_PUBLICATION_NAME: { schema: identifier, rule: 'a lower-case SQL identifier', example: 'sillage_public', doc: 'publication of the engagement tables (default `sillage_<DATABASE_SCHEMA>`)' },
  CDC_HEARTBEAT_SECONDS: { schema: int(1, 3600), rule: 'an integer number of seconds from 1 to 3600', example: '10', default: '10', doc: 'how often an idle CDC relay confirms its position so the slot does not pin WAL' },
  KAFKA_TOPIC_PARTITIONS: { schema: int(1, 1000), rule: 'an integer from 1 to 1000', example: '6', default: '6', doc: 'partitions of topics the service creates' },
  REDIS_URL: { schema: redisUrl, rule: 'a redis:// or rediss:// URL', example: 'redis://127.0.0.1:6379', doc: 'Redis', secret: true },
  REDIS_KEY_PREFIX: { schema: z.string().regex(/^[A-Za-z0-9:_-]{0,64}$/), rule: 'letters, digits, : _ - (up to 64)', example: 'sillage:', default: 'sillage:', doc: 'prefix of every Redis key' },
  REDIS_AGGREGATION_WINDOW_MINUTES: { schema: int(1, 1440), rule: 'an integer from 1 to 1440', example: '10', default: '10', doc: 'live window' },
  STREAMS_DIR: { schema: z.string().min(1), rule: 'a directory path', example: './streams', default: './streams', doc: 'stream job specs (`*.yaml`, `*.yml`, `*.json`) loaded at start; a missing directory means no file jobs' },
  STREAMS_COMMIT_INTERVAL_MS: { schema: int(50, 60000), rule: 'an integer number of milliseconds from 50 to 60000', example: '1000', default: '1000', doc: 'how often a stream job writes its results, window state and offsets in one Postgres transaction' },
  BATCH_SIZE: { schema: int(1, 100000), rule: 'an integer from 1 to 100000', example: '100', default: '100', doc: 'processor batch size' },
  PROCESSING_INTERVAL_SECONDS: { schema: positiveNumber, rule: 'a positive number of seconds', example: '1', default: '1', doc: 'longest wait before a partial batch is processed' },
  ENABLE_EXACTLY_ONCE: { schema: bool, rule: 'true or false', example: 'true', default: 'true', doc: 'transactional CDC producer, read-committed consumers' },
  EXTERNAL_SINK_URL: { schema: httpUrl, rule: 'an http(s) URL', example: 'https://example.com/events', doc: 'REST sink; unset = sink disabled' },
  EXTERNAL_SINK_TOKEN: { schema: z.string().min(1), rule: 'a non-empty string', example: 'a-long-random-secret', doc: 'sent as `Authorization: Bearer <token>` to EXTERNAL_SINK_URL; unset = no header', secret: true },
  EXTERNAL_SINK_TIMEOUT_MS: { schema: int(100, 600_000), rule: 'an integer number of milliseconds from 100 to 600000', example: '10000', default: '10000', doc: 'longest wait for one POST to the REST sink, response included (a hang counts as a transient failure)' },
  EXTERNAL_SINK_RETRIES: { schema: int(0, 100), rule: 'an integer from 0 to 100', example: '6', default: '6', doc: 'retries of a batch the REST sink failed transiently (network, 5xx, 408, 429) before its events go to the DLQ; backoff doubles from 200 ms (full jitter, at most 5 s; a `Retry-After` wins up to 5 s), within 60 s from the first attempt' },
  EXTERNAL_SINK_BREAKER_FAILURES: { schema: int(1, 1000), rule: 'an integer from 1 to 1000', example: '10', default: '10', doc: 'consecutive failed POSTs that open the REST sink\'s circuit breaker (while open, batches go to the DLQ at once instead of waiting)' },
  EXTERNAL_SINK_BREAKER_COOLDOWN_MS: { schema: int(100, 3_600_000), rule: 'an integer number of milliseconds from 100 to 3600000', example: '10000', default: '10000', doc: 'how long the breaker stays open before one probe batch is let through' },
  EXTERNAL_SINK_GZIP_BYTES: { schema: int(0, 100 * 1024 * 1024), rule: 'an integer number of bytes from 0', example: '65536', default: '65536', doc: 'request bodies larger than this are sent with `Content-Encoding: gzip`' },
  WAREHOUSE: { schema: z.enum(['auto', 'postgres', 'duckdb', 'bigquery']), rule: 'one of auto, postgres, duckdb, bigquery', example: 'postgres', default: 'auto', doc: 'where engagement facts and their daily/hourly views live; `auto` = BigQuery when BIGQUERY_PROJECT_ID is set, else Postgres (schema WAREHOUSE_SCHEMA of DATABASE_URL); `duckdb` = `$DATA_DIR/warehouse.duckdb`, for a single process' },
  WAREHOUSE_SCHEMA: { schema: identifier, rule: 'a lower-case SQL identifier', example: 'warehouse', default: 'warehouse', doc: 'Postgres schema of the warehouse (WAREHOUSE=postgres)' },
  WAREHOUSE_FLUSH_INTERVAL_MS: { schema: int(1, 30_000), rule: 'an integer number of milliseconds from 1 to 30000', example: '1000', default: '1000', doc: 'the warehouse writes a micro-batch when BATCH_SIZE facts wait or when the oldest waited this long' },
  BIGQUERY_PROJECT_ID: { schema: z.string().regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/), rule: 'a GCP project id', example: 'my-project', doc: 'warehouse in BigQuery (with BIGQUERY_DATASET_ID); unset = WAREHOUSE decides' },
  BIGQUERY_DATASET_ID: { schema: z.string().regex(/^\w{1,1024}$/), rule: 'letters, digits and underscores', example: 'engagement', doc: 'BigQuery dataset' },
  BIGQUERY_API_URL: { schema: httpUrl, rule: 'an http(s) URL', example: 'https://bigquery.googleapis.com', default: 'https://bigquery.googleapis.com', doc: 'BigQuery REST endpoint (a stand-in in tests)' },
  GOOGLE_APPLICATION_CREDENTIALS: { schema: z.string().min(1), rule: 'a path to a service-account JSON key file', example: '/secrets/bigquery-writer.json', doc: 'BigQuery credentials; unset = the GCE/GKE metadata server' },
  BACKFILL_BATCH_SIZE: { schema: int(1, 100_000), rule: 'an integer from 1 to 100000', example: '5000', default: '5000', doc: 'rows read from Postgres and handed to the sinks at once by `pipeline backfill`' },
  BACKFILL_LANES: { schema: int(1, 64), rule: 'an integer from 1 to 64', example: '4', default: '4', doc: 'key ranges `pipeline backfill` works on in parallel, each with its own checkpoint' },
  API_KEY: { schema: z.string().min(16), rule: 'at least 16 characters', example: 'a-long-random-secret', doc: 'when set, mutating endpoints require `Authorization: Bearer <key>`', secret: true },
  RATE_LIMIT_SEARCH_PER_MINUTE: { schema: int(1, 1_000_000), rule: 'an integer from 1 to 1000000', example: '600', default: '600', doc: 'search/stats requests per client per minute' },
  RATE_LIMIT_MUTATIONS_PER_MINUTE: { schema: int(1, 1_000_000), rule: 'an integer from 1 to 1000000', example: '60', default: '60', doc: 'mutating requests per client per minute' },
  MAX_BODY_BYTES: { schema: int(1024, 1024 * 1024 * 1024), rule: 'an integer number of bytes from 1024', example: '1048576', default: '1048576', doc: 'largest request body accepted (413 above)' },
  OTEL_EXPORTER_OTLP_ENDPOINT: { schema: httpUrl, rule: 'an http(s) URL of an OTLP/HTTP collector', example: 'http://127.0.0.1:4318', doc: 'send OpenTelemetry traces (one per request and per pipeline batch); unset = tracing off, at no cost' },
  OTEL_SERVICE_NAME: { schema: z.string().min(1), rule: 'a non-empty string', example: 'sillage', default: 'sillage', doc: 'service name on traces' },
  CORS_ORIGINS: { schema: z.string().regex(/^(\*|https?:\/\/[^,\s]+(,https?:\/\/[^,\s]+)*)$/), rule: '`*` or comma-separated origins', example: 'https://ops.example.com', doc: 'CORS allowed origins; unset = CORS off' },
} satisfies Record<string, Spec<unknown>>;

type Specs = typeof specs;
export type EnvName = keyof Specs;
type Out<K extends EnvName> = Specs[K]['schema'] extends z.ZodType<infer T> ? T : never;
type Raw = { [K in EnvName]: Specs[K] extends { default: string } ? Out<K> : Out<K> | undefined };

export type Config = Raw & {
  /** Absolute form of DATA_DIR. */
  dataDir: string;
  /** LAKE_URL with its default applied. */
  lakeUrl: string;
  engagementEnabled: boolean;
  /** WAREHOUSE with `auto` resolved. */
  warehouse: 'postgres' | 'duckdb' | 'bigquery';
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Validates the environment once; throws ConfigError naming every bad variable, its rule and a good example. */
export function loadConfig(env: Record<string, string | undefined> = Bun.env): Config {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(specs) as [EnvName, Spec<unknown>][]) {
    const given = env[name];
    const raw = given === undefined || given === '' ? spec.default : given;
    if (raw === undefined) continue;
    const parsed = spec.schema.safeParse(raw);
    if (parsed.success) out[name] = parsed.data;
    else {
      const shown = spec.secret ? '(hidden)' : JSON.stringify(raw);
      // A rule's own explanation (which list item is unknown) is worth showing; zod's generic messages are not.
      const why = spec.secret ? [] : parsed.error.issues.filter((i) => i.code === 'custom' && i.params?.explain).map((i) => i.message);
      problems.push(`${name} must be ${spec.rule} (got ${shown}${why.length ? `: ${why.join('; ')}` : ''}). Example: ${name}=${spec.example}`);
    }
  }
  const raw = out as Raw;
  if (raw.S3_ACCESS_KEY_ID && !raw.S3_SECRET_ACCESS_KEY) problems.push('S3_SECRET_ACCESS_KEY must be set when S3_ACCESS_KEY_ID is set. Example: S3_SECRET_ACCESS_KEY=wJalr…');
  if (!!raw.BIGQUERY_PROJECT_ID !== !!raw.BIGQUERY_DATASET_ID)
    problems.push('BIGQUERY_PROJECT_ID and BIGQUERY_DATASET_ID must be set together. Example: BIGQUERY_PROJECT_ID=my-project BIGQUERY_DATASET_ID=engagement');
  if (raw.WAREHOUSE === 'bigquery' && !raw.BIGQUERY_PROJECT_ID)
    problems.push('WAREHOUSE=bigquery needs BIGQUERY_PROJECT_ID and BIGQUERY_DATASET_ID. Example: BIGQUERY_PROJECT_ID=my-project BIGQUERY_DATASET_ID=engagement');
  if (problems.length) throw new ConfigError(problems);

  const dataDir = resolve(raw.DATA_DIR);
  return {
    ...raw,
    dataDir,
    lakeUrl: raw.LAKE_URL ?? `file://${resolve(dataDir, 'lake')}`,
    engagementEnabled: !!(raw.DATABASE_URL && raw.KAFKA_BOOTSTRAP_SERVERS && raw.REDIS_URL),
    warehouse: raw.WAREHOUSE !== 'auto' ? raw.WAREHOUSE : raw.BIGQUERY_PROJECT_ID ? 'bigquery' : 'postgres',
  };
}

/** Markdown table of every variable, used by the README check so docs never drift from the code. */
export function configTable(): string {
  const rows = Object.entries(specs).map(
    ([name, s]) => `| \`${name}\` | ${'default' in s && s.default !== undefined ? `\`${s.default}\`` : 'unset'} | ${s.rule} | ${s.doc} |`,
  );
  return ['| variable | default | rule | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
