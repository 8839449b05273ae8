import { join } from 'node:path';
import type { Clock } from '../../../platform/clock.ts';
import { ROOT } from '../../../platform/context.ts';
import { AppError, errorMessage, terminal, transient } from '../../../platform/errors.ts';
import { isTransientPostgresError, openPostgres, type PostgresStore, type Sql } from '../../../platform/stores/postgres.ts';
import { emptyResult, type SinkResult } from '../../../platform/stream/sink.ts';
import type { Envelope } from '../../../platform/stream/types.ts';
import type { EngagementEvent } from '../model.ts';
import { eventOfFact, FACT_COLUMNS, factWriter, summaryOf, type DailyRow, type Fact, type FactWriter, type HourlyRow, type Stored, type WarehouseQuery } from './facts.ts';
import { WAREHOUSE_SINK, type Warehouse } from './warehouse.ts';

export type PostgresWarehouseOptions = {
  url: string;
  /** Schema holding engagement_facts and its views (created with db/warehouse migrations). */
  schema: string;
  /** A micro-batch is written when this many facts wait… */
  flushRows: number;
  /** …or when the oldest has waited this long. */
  flushIntervalMs: number;
  /** One statement longer than this is cancelled (and retried: transient). */
  statementTimeoutMs?: number;
  maxConnections?: number;
  clock?: Clock;
};

const SPECIAL = /[\\\t\n\r]/;
/** A value in COPY's text format; most values (ids, times, numbers) need no escaping, so that is checked first. */
const tsv = (v: unknown) => {
  if (v === null || v === undefined) return '\\N';
  if (typeof v === 'boolean') return v ? 't' : 'f';
  const s = String(v);
  return SPECIAL.test(s) ? s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r') : s;
};

/**
 * Facts in a Postgres schema shared by every processor, backfill and API instance (the default warehouse).
 * A micro-batch is one transaction: COPY into a temporary staging table, then INSERT … ON CONFLICT (event_id)
 * DO NOTHING RETURNING event_id, which tells applied ids from duplicates even when two writers race.
 */
export class PostgresWarehouse implements Warehouse {
  readonly name = WAREHOUSE_SINK;
  readonly kind = 'postgres';
  private readonly store: PostgresStore;
  private readonly facts: FactWriter;
  private readonly timeoutMs: number;

  constructor(private options: PostgresWarehouseOptions) {
    this.timeoutMs = options.statementTimeoutMs ?? 30_000;
    this.store = openPostgres({ url: options.url, schema: options.schema, migrationsDir: join(ROOT, 'db/warehouse'), max: options.maxConnections ?? 4 });
    this.facts = factWriter({ ...options, maxConcurrentFlushes: 3, store: (facts) => this.insert(facts), failed: (error) => this.classify(error, 'store facts') });
  }

  get sql(): Sql {
    return this.store.sql;
  }

  async prepare() {
    try {
      await this.store.migrate();
    } catch (error) {
      throw this.classify(error, 'prepare the warehouse schema');
    }
  }

  async write(batch: Envelope<EngagementEvent>[]): Promise<SinkResult> {
    if (!batch.length) return emptyResult();
    await this.prepare();
    return this.facts.write(batch);
  }

  /** Inserts facts (unique ids); answers the ids that were new. A data error isolates the bad rows one by one. */
  private async insert(facts: Fact[]): Promise<Stored> {
    try {
      return { inserted: await this.insertMany(facts) };
    } catch (error) {
      if (!isDataError(error) || facts.length === 1) throw error;
      const inserted = new Set<string>();
      const rejected = new Map<string, AppError>();
      for (const f of facts) {
        try {
          for (const id of await this.insertMany([f])) inserted.add(id);
        } catch (rowError) {
          if (!isDataError(rowError)) throw rowError;
          rejected.set(f.event_id, terminal('warehouse_rejected', `The warehouse rejected event ${f.event_id}: ${errorMessage(rowError)}`, rowError));
        }
      }
      return { inserted, rejected };
    }
  }

  private async insertMany(facts: Fact[]): Promise<Set<string>> {
    const cols = FACT_COLUMNS.join(', ');
    const rows = await this.store.sql.begin(async (tx) => {
      await tx.unsafe(`SET LOCAL statement_timeout = ${Math.round(this.timeoutMs)}`);
      await tx.unsafe(`CREATE TEMP TABLE IF NOT EXISTS engagement_facts_staging (LIKE engagement_facts INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`);
      const writable = await tx.unsafe(`COPY engagement_facts_staging (${cols}) FROM STDIN`).writable();
      // One write of the whole micro-batch: far cheaper than streaming it in pieces.
      let text = '';
      for (const f of facts) text += FACT_COLUMNS.map((c) => tsv(f[c])).join('\t') + '\n';
      await new Promise<void>((resolve, reject) => {
        writable.on('error', reject);
        writable.end(text, resolve);
      });
      return tx.unsafe<{ event_id: string }[]>(`INSERT INTO engagement_facts (${cols}) SELECT ${cols} FROM engagement_facts_staging ON CONFLICT (event_id) DO NOTHING RETURNING event_id`);
    });
    return new Set(rows.map((r) => String(r.event_id)));
  }

  private classify(error: unknown, what: string): AppError {
    if (error instanceof AppError) return error;
    if (isTransientPostgresError(error))
      return transient('warehouse_unavailable', `Could not ${what} in Postgres schema ${this.options.schema} (${errorMessage(error)}); the batch will be retried.`, { cause: error });
    return terminal('warehouse_failed', `Could not ${what} in Postgres schema ${this.options.schema}: ${errorMessage(error)}`, error);
  }

  async daily(q: WarehouseQuery): Promise<DailyRow[]> {
    const sql = this.store.sql;
    const rows = await sql`
      SELECT day::text AS day, content_id::text AS content_id, content_type, events, plays, pauses, finishes, clicks, unique_users,
             total_engagement_seconds, avg_engagement_seconds, avg_completion_pct
      FROM daily_engagement_summary
      WHERE day BETWEEN ${q.from}::date AND ${q.to}::date
        ${q.contentId ? sql`AND content_id = ${q.contentId}::uuid` : sql``}
        ${q.contentType ? sql`AND content_type = ${q.contentType}` : sql``}
      ORDER BY day, events DESC, content_id
      LIMIT ${q.limit}`;
    return rows.map((r) => ({ day: String(r.day), ...summaryOf(r) }));
  }

  async hourly(q: WarehouseQuery): Promise<HourlyRow[]> {
    const sql = this.store.sql;
    const rows = await sql`
      SELECT to_char(hour, 'YYYY-MM-DD"T"HH24":00:00Z"') AS hour, content_id::text AS content_id, content_type, events, plays, pauses, finishes,
             clicks, unique_users, total_engagement_seconds, avg_engagement_seconds, avg_completion_pct
      FROM hourly_engagement_trends
      WHERE hour >= ${q.from}::date AND hour < ${q.to}::date + 1
        ${q.contentId ? sql`AND content_id = ${q.contentId}::uuid` : sql``}
        ${q.contentType ? sql`AND content_type = ${q.contentType}` : sql``}
      ORDER BY hour, events DESC, content_id
      LIMIT ${q.limit}`;
    return rows.map((r) => ({ hour: String(r.hour), ...summaryOf(r) }));
  }

  async *factsSince(fromMs: number, pageSize = 5000): AsyncIterable<EngagementEvent[]> {
    const sql = this.store.sql;
    const since = new Date(fromMs).toISOString();
    // The hour predicate lets the planner use the hour index; the exact bound follows.
    const cursor = sql`
      SELECT event_id::text AS event_id, content_id::text AS content_id, content_type, slug, title, length_seconds, user_id::text AS user_id,
             event_type, event_ts, duration_ms, device, engagement_seconds, engagement_pct, engagement_pct_capped, committed_at
      FROM engagement_facts
      WHERE date_trunc('hour', event_ts AT TIME ZONE 'UTC') >= date_trunc('hour', ${since}::timestamptz AT TIME ZONE 'UTC') AND event_ts >= ${since}::timestamptz`.cursor(pageSize);
    for await (const rows of cursor) {
      yield rows.map((r) =>
        eventOfFact({
          ...(r as unknown as Fact),
          event_ts: (r.event_ts as Date).toISOString(),
          committed_at: r.committed_at ? (r.committed_at as Date).toISOString() : null,
        }),
      );
    }
  }

  async count(): Promise<number> {
    const [row] = await this.store.sql`SELECT count(*)::bigint AS n FROM engagement_facts`;
    return Number(row!.n);
  }

  async check() {
    await this.store.sql`SELECT 1`;
    return { kind: this.kind, schema: this.options.schema };
  }

  async close() {
    await this.facts.drain().catch(() => {});
    await this.store.close();
  }
}

/** Data and constraint errors (classes 22, 23): the rows are at fault, not the connection. */
const isDataError = (error: unknown) => /^(22|23)/.test((error as { code?: string })?.code ?? '');

