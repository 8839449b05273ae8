import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { Clock } from '../../../platform/clock.ts';
import { AppError, errorMessage, terminal, transient } from '../../../platform/errors.ts';
import { emptyResult, type SinkResult } from '../../../platform/stream/sink.ts';
import type { Envelope } from '../../../platform/stream/types.ts';
import type { EngagementEvent } from '../model.ts';
import { eventOfFact, FACT_COLUMNS, factWriter, summaryOf, type DailyRow, type Fact, type FactWriter, type HourlyRow, type WarehouseQuery } from './facts.ts';
import { WAREHOUSE_SINK, type Warehouse } from './warehouse.ts';

const measures = `
       count(*) AS events,
       count(*) FILTER (WHERE event_type = 'play') AS plays,
       count(*) FILTER (WHERE event_type = 'pause') AS pauses,
       count(*) FILTER (WHERE event_type = 'finish') AS finishes,
       count(*) FILTER (WHERE event_type = 'click') AS clicks,
       count(DISTINCT user_id) AS unique_users,
       coalesce(sum(engagement_seconds), 0) AS total_engagement_seconds,
       avg(engagement_seconds) AS avg_engagement_seconds,
       avg(engagement_pct) AS avg_completion_pct`;

const DDL = [
  `CREATE TABLE IF NOT EXISTS engagement_facts (
     event_id BIGINT PRIMARY KEY, content_id UUID NOT NULL, content_type VARCHAR NOT NULL, slug VARCHAR NOT NULL, title VARCHAR NOT NULL,
     length_seconds INTEGER, user_id UUID NOT NULL, event_type VARCHAR NOT NULL, event_ts TIMESTAMPTZ NOT NULL, duration_ms INTEGER, device VARCHAR,
     engagement_seconds DOUBLE, engagement_pct DOUBLE, engagement_pct_capped BOOLEAN NOT NULL, committed_at TIMESTAMPTZ,
     loaded_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp)`,
  `CREATE OR REPLACE VIEW daily_engagement_summary AS
   SELECT CAST(timezone('UTC', event_ts) AS DATE) AS day, content_id, content_type, ${measures}
   FROM engagement_facts GROUP BY ALL`,
  `CREATE OR REPLACE VIEW hourly_engagement_trends AS
   SELECT date_trunc('hour', timezone('UTC', event_ts)) AS hour, content_id, content_type, ${measures}
   FROM engagement_facts GROUP BY ALL`,
];

const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** Errors that say the file cannot be written right now (locked by another process, read-only, disk full). */
function classifyDuckDBError(error: unknown, path: string): AppError {
  if (error instanceof AppError) return error;
  const message = errorMessage(error);
  if (/lock/i.test(message))
    return transient(
      'warehouse_locked',
      `The DuckDB warehouse ${path} is locked by another process (${message}). One process at a time can write a DuckDB file: stop the other one (a server whose processor runs, another backfill) or use WAREHOUSE=postgres, which every instance shares; the batch will be retried.`,
      { cause: error },
    );
  const code = (error as { code?: string })?.code ?? '';
  // EEXIST: mkdir found a file where the warehouse's directory should be; someone can move it, so retrying helps.
  if (/^E(NOTDIR|NOENT|EXIST|ROFS|ACCES|PERM|NOSPC|DQUOT|IO)$/.test(code) || /IO Error|Read-only|read-only|Permission denied|No space left|disk|Cannot open|not a directory|invalidated|FATAL/i.test(message))
    return transient('warehouse_unavailable', `Cannot write the DuckDB warehouse ${path}: ${message}. Free disk space or make the directory writable; the batch will be retried.`, { cause: error });
  return terminal('warehouse_failed', `The DuckDB warehouse ${path} refused the write: ${message}`, error);
}

/**
 * Facts in a DuckDB file under DATA_DIR (WAREHOUSE=duckdb): no server needed, fast scans, but one writing
 * process per file, so it suits a single process (`bun run pipeline -- stream`, one container). Writes go
 * through one connection: each micro-batch is appended to a staging table and moved with
 * INSERT … ON CONFLICT DO NOTHING RETURNING event_id in one transaction. The file is opened on first use and
 * reopened after an I/O error, so a full disk or a lock held elsewhere is a transient failure, not a crash.
 */
export class DuckDBWarehouse implements Warehouse {
  readonly name = WAREHOUSE_SINK;
  readonly kind = 'duckdb';
  private instance: DuckDBInstance | undefined;
  private writer: DuckDBConnection | undefined;
  private opening: Promise<DuckDBConnection> | undefined;
  private readonly facts: FactWriter;

  constructor(private options: { path: string; flushRows: number; flushIntervalMs: number; clock?: Clock }) {
    // One flush at a time: DuckDB takes one writer.
    this.facts = factWriter({
      ...options,
      store: async (facts) => ({ inserted: await this.insert(facts) }),
      failed: (error) => {
        const classified = classifyDuckDBError(error, options.path);
        if (classified.retryable) this.reset();
        return classified;
      },
    });
  }

  get path() {
    return this.options.path;
  }

  private open(): Promise<DuckDBConnection> {
    if (this.writer) return Promise.resolve(this.writer);
    this.opening ??= (async () => {
      try {
        mkdirSync(dirname(this.options.path), { recursive: true });
        const instance = await DuckDBInstance.create(this.options.path, { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
        const c = await instance.connect();
        // The warehouse touches only its own files: the database and its WAL (which DuckDB keeps allowed) and its
        // spill directory. No other file, no network, and nothing later may loosen that.
        const spill = `${this.options.path}.tmp`;
        for (const sql of [`SET temp_directory = ${quote(spill)}`, `SET allowed_directories = [${quote(`${spill}/`)}]`, 'SET enable_external_access = false', 'SET lock_configuration = true'])
          await c.run(sql);
        for (const ddl of DDL) await c.run(ddl);
        await c.run(`CREATE TEMP TABLE IF NOT EXISTS engagement_facts_staging AS SELECT ${FACT_COLUMNS.join(', ')} FROM engagement_facts LIMIT 0`);
        this.instance = instance;
        this.writer = c;
        return c;
      } catch (error) {
        throw classifyDuckDBError(error, this.options.path);
      }
    })().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  /** After an I/O error DuckDB may refuse further writes on that instance: start afresh on the next attempt. */
  private reset() {
    try {
      this.writer?.closeSync();
      this.instance?.closeSync();
    } catch {
      // Already unusable.
    }
    this.writer = undefined;
    this.instance = undefined;
  }

  async prepare() {
    await this.open();
  }

  async write(batch: Envelope<EngagementEvent>[]): Promise<SinkResult> {
    if (!batch.length) return emptyResult();
    return this.facts.write(batch);
  }

  private async insert(facts: Fact[]): Promise<Set<string>> {
    const c = await this.open();
    await c.run('BEGIN TRANSACTION');
    try {
      await c.run('DELETE FROM engagement_facts_staging');
      const appender = await c.createAppender('engagement_facts_staging', 'main', 'temp');
      for (const f of facts) {
        appender.appendBigInt(BigInt(f.event_id));
        appender.appendVarchar(f.content_id);
        appender.appendVarchar(f.content_type);
        appender.appendVarchar(f.slug);
        appender.appendVarchar(f.title);
        if (f.length_seconds === null) appender.appendNull();
        else appender.appendInteger(f.length_seconds);
        appender.appendVarchar(f.user_id);
        appender.appendVarchar(f.event_type);
        appender.appendVarchar(f.event_ts);
        if (f.duration_ms === null) appender.appendNull();
        else appender.appendInteger(f.duration_ms);
        if (f.device === null) appender.appendNull();
        else appender.appendVarchar(f.device);
        if (f.engagement_seconds === null) appender.appendNull();
        else appender.appendDouble(f.engagement_seconds);
        if (f.engagement_pct === null) appender.appendNull();
        else appender.appendDouble(f.engagement_pct);
        appender.appendBoolean(f.engagement_pct_capped);
        if (f.committed_at === null) appender.appendNull();
        else appender.appendVarchar(f.committed_at);
        appender.endRow();
      }
      appender.closeSync();
      const cols = FACT_COLUMNS.join(', ');
      const reader = await c.runAndReadAll(`INSERT INTO engagement_facts (${cols}) SELECT ${cols} FROM engagement_facts_staging ON CONFLICT DO NOTHING RETURNING event_id`);
      await c.run('COMMIT');
      return new Set(reader.getRows().map((r) => String(r[0])));
    } catch (error) {
      await c.run('ROLLBACK').catch(() => {});
      throw error;
    }
  }

  private async read<T = Record<string, unknown>>(sql: string, params: Record<string, string | number> = {}): Promise<T[]> {
    await this.open();
    const c = await this.instance!.connect();
    try {
      return (await c.runAndReadAll(sql, params)).getRowObjectsJson() as T[];
    } finally {
      c.closeSync();
    }
  }

  private filters(q: WarehouseQuery) {
    return `${q.contentId ? 'AND content_id = $content_id::UUID' : ''} ${q.contentType ? 'AND content_type = $content_type' : ''}`;
  }

  private params(q: WarehouseQuery) {
    const p: Record<string, string | number> = { from: q.from, to: q.to, limit: q.limit };
    if (q.contentId) p.content_id = q.contentId;
    if (q.contentType) p.content_type = q.contentType;
    return p;
  }

  async daily(q: WarehouseQuery): Promise<DailyRow[]> {
    const rows = await this.read(
      `SELECT strftime(day, '%Y-%m-%d') AS day, CAST(content_id AS VARCHAR) AS content_id, * EXCLUDE (day, content_id)
       FROM daily_engagement_summary WHERE day BETWEEN $from::DATE AND $to::DATE ${this.filters(q)}
       ORDER BY day, events DESC, content_id LIMIT $limit`,
      this.params(q),
    );
    return rows.map((r) => ({ day: String(r.day), ...summaryOf(r) }));
  }

  async hourly(q: WarehouseQuery): Promise<HourlyRow[]> {
    const rows = await this.read(
      `SELECT strftime(hour, '%Y-%m-%dT%H:00:00Z') AS hour, CAST(content_id AS VARCHAR) AS content_id, * EXCLUDE (hour, content_id)
       FROM hourly_engagement_trends WHERE hour >= $from::DATE AND hour < $to::DATE + 1 ${this.filters(q)}
       ORDER BY hour, events DESC, content_id LIMIT $limit`,
      this.params(q),
    );
    return rows.map((r) => ({ hour: String(r.hour), ...summaryOf(r) }));
  }

  async *factsSince(fromMs: number, pageSize = 5000): AsyncIterable<EngagementEvent[]> {
    let after = '-1';
    for (;;) {
      const rows = await this.read<Record<string, unknown>>(
        `SELECT CAST(event_id AS VARCHAR) AS event_id, CAST(content_id AS VARCHAR) AS content_id, content_type, slug, title, length_seconds,
                CAST(user_id AS VARCHAR) AS user_id, event_type, strftime(timezone('UTC', event_ts), '%Y-%m-%dT%H:%M:%S.%gZ') AS event_ts, duration_ms, device,
                engagement_seconds, engagement_pct, engagement_pct_capped,
                CASE WHEN committed_at IS NULL THEN NULL ELSE strftime(timezone('UTC', committed_at), '%Y-%m-%dT%H:%M:%S.%gZ') END AS committed_at
         FROM engagement_facts WHERE event_ts >= make_timestamptz($from::BIGINT * 1000) AND event_id > $after::BIGINT ORDER BY event_id LIMIT $limit`,
        { from: fromMs, after, limit: pageSize },
      );
      if (!rows.length) return;
      yield rows.map((r) => eventOfFact({ ...(r as unknown as Fact), length_seconds: (r.length_seconds as number | null) ?? null, duration_ms: (r.duration_ms as number | null) ?? null }));
      after = String(rows.at(-1)!.event_id);
    }
  }

  async count(): Promise<number> {
    const [row] = await this.read<{ n: string }>('SELECT count(*)::VARCHAR AS n FROM engagement_facts');
    return Number(row!.n);
  }

  async check() {
    await this.read('SELECT 1');
    return { kind: this.kind, path: this.options.path };
  }

  async close() {
    await this.facts.drain().catch(() => {});
    this.reset();
  }
}
