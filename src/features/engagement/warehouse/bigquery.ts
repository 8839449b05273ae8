import { systemClock, type Clock } from '../../../platform/clock.ts';
import { AppError, errorMessage, terminal, transient } from '../../../platform/errors.ts';
import { emptyResult, type SinkResult } from '../../../platform/stream/sink.ts';
import type { Envelope } from '../../../platform/stream/types.ts';
import type { EngagementEvent } from '../model.ts';
import { BigQueryClient, type QueryParam } from './bigquery-client.ts';
import { eventOfFact, type DailyRow, type Fact, type FactWriter, factWriter, type HourlyRow, type Stored, summaryOf, type WarehouseQuery } from './facts.ts';
import { WAREHOUSE_SINK, type Warehouse } from './warehouse.ts';

export type BigQueryWarehouseOptions = {
  projectId: string;
  datasetId: string;
  apiUrl: string;
  credentialsFile?: string;
  flushRows: number;
  flushIntervalMs: number;
  clock?: Clock;
};

const DAY_MS = 86_400_000;

const measures = `
       COUNT(*) AS events,
       COUNTIF(event_type = 'play') AS plays,
       COUNTIF(event_type = 'pause') AS pauses,
       COUNTIF(event_type = 'finish') AS finishes,
       COUNTIF(event_type = 'click') AS clicks,
       COUNT(DISTINCT user_id) AS unique_users,
       IFNULL(SUM(engagement_seconds), 0) AS total_engagement_seconds,
       AVG(engagement_seconds) AS avg_engagement_seconds,
       AVG(engagement_pct) AS avg_completion_pct`;

/**
 * Facts in BigQuery (BIGQUERY_PROJECT_ID/BIGQUERY_DATASET_ID). Streaming inserts (`insertAll`) carry the event
 * id as `insertId`, which BigQuery uses to drop a repeated row on a best-effort basis (about a minute). Exactness
 * comes from two more layers: before inserting, the sink asks which ids of the micro-batch are already stored
 * (one query, pruned to the batch's days by partition and to its ids by clustering) and reports those as
 * duplicates; and every view reads `engagement_facts_unique`, which keeps one row per event id, so even two
 * writers racing past the check (a rebalance) count an event once.
 */
export class BigQueryWarehouse implements Warehouse {
  readonly name = WAREHOUSE_SINK;
  readonly kind = 'bigquery';
  private readonly client: BigQueryClient;
  private readonly facts: FactWriter;
  private prepared: Promise<void> | undefined;

  constructor(private options: BigQueryWarehouseOptions) {
    this.client = new BigQueryClient({ apiUrl: options.apiUrl, projectId: options.projectId, credentialsFile: options.credentialsFile, clock: options.clock });
    this.facts = factWriter({
      ...options,
      maxConcurrentFlushes: 2,
      store: (facts) => this.insert(facts),
      failed: (error) => {
        const classified = classify(error);
        // A table removed under us is created again on the next attempt.
        if (classified.code === 'bigquery_not_found') this.prepared = undefined;
        return classified;
      },
    });
  }

  /** A fully qualified table or view name. */
  private t(name: string) {
    return `\`${this.options.projectId}.${this.options.datasetId}.${name}\``;
  }

  prepare(): Promise<void> {
    this.prepared ??= (async () => {
      const { projectId, datasetId } = this.options;
      await this.client.query(`CREATE SCHEMA IF NOT EXISTS \`${projectId}.${datasetId}\``);
      await this.client.query(`CREATE TABLE IF NOT EXISTS ${this.t('engagement_facts')} (
        event_id INT64 NOT NULL, content_id STRING NOT NULL, content_type STRING NOT NULL, slug STRING NOT NULL, title STRING NOT NULL,
        length_seconds INT64, user_id STRING NOT NULL, event_type STRING NOT NULL, event_ts TIMESTAMP NOT NULL, duration_ms INT64, device STRING,
        engagement_seconds FLOAT64, engagement_pct FLOAT64, engagement_pct_capped BOOL NOT NULL, committed_at TIMESTAMP, loaded_at TIMESTAMP NOT NULL)
        PARTITION BY DATE(event_ts) CLUSTER BY event_id`);
      await this.client.query(`CREATE OR REPLACE VIEW ${this.t('engagement_facts_unique')} AS
        SELECT * EXCEPT (row_rank) FROM (
          SELECT *, ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY loaded_at) AS row_rank FROM ${this.t('engagement_facts')})
        WHERE row_rank = 1`);
      await this.client.query(`CREATE OR REPLACE VIEW ${this.t('daily_engagement_summary')} AS
        SELECT DATE(event_ts) AS day, content_id, content_type, ${measures}
        FROM ${this.t('engagement_facts_unique')} GROUP BY day, content_id, content_type`);
      await this.client.query(`CREATE OR REPLACE VIEW ${this.t('hourly_engagement_trends')} AS
        SELECT TIMESTAMP_TRUNC(event_ts, HOUR) AS hour, content_id, content_type, ${measures}
        FROM ${this.t('engagement_facts_unique')} GROUP BY hour, content_id, content_type`);
    })().catch((error) => {
      this.prepared = undefined;
      throw classify(error);
    });
    return this.prepared;
  }

  async write(batch: Envelope<EngagementEvent>[]): Promise<SinkResult> {
    if (!batch.length) return emptyResult();
    await this.prepare();
    return this.facts.write(batch);
  }

  private async insert(facts: Fact[]): Promise<Stored> {
    const times = facts.map((f) => Date.parse(f.event_ts));
    const stored = await this.client.query(
      `SELECT DISTINCT CAST(event_id AS STRING) AS event_id FROM ${this.t('engagement_facts')}
       WHERE event_id IN UNNEST(@ids) AND event_ts BETWEEN @lo AND @hi`,
      [
        { name: 'ids', type: 'INT64', value: facts.map((f) => f.event_id) },
        // A repeat carries its event's time: the batch's days (with a day's margin) bound the partitions read.
        { name: 'lo', type: 'TIMESTAMP', value: new Date(Math.min(...times) - DAY_MS).toISOString() },
        { name: 'hi', type: 'TIMESTAMP', value: new Date(Math.max(...times) + DAY_MS).toISOString() },
      ],
    );
    const already = new Set(stored.map((r) => String(r.event_id)));
    let pending = facts.filter((f) => !already.has(f.event_id));
    const inserted = new Set<string>();
    const rejected = new Map<string, AppError>();
    const loadedAt = new Date((this.options.clock ?? systemClock).now()).toISOString();
    // BigQuery refuses a whole request when one row is invalid: the valid rows come back "stopped" and go again.
    for (let round = 0; pending.length; round++) {
      if (round >= 3) throw transient('bigquery_unavailable', 'BigQuery kept stopping valid rows; the batch will be retried.');
      const { insertErrors = [] } = await this.client.insertAll(
        this.options.datasetId,
        'engagement_facts',
        pending.map((f) => ({ insertId: `engagement_events:${f.event_id}`, json: { ...f, event_id: Number(f.event_id), loaded_at: loadedAt } })),
      );
      const retry: Fact[] = [];
      const failedAt = new Set<number>();
      for (const e of insertErrors) {
        const fact = pending[e.index];
        if (!fact) continue;
        failedAt.add(e.index);
        const reasons = e.errors.map((x) => x.reason ?? '');
        if (reasons.every((r) => r === 'stopped')) retry.push(fact);
        else if (reasons.includes('invalid'))
          rejected.set(fact.event_id, terminal('warehouse_rejected', `BigQuery rejected event ${fact.event_id}: ${e.errors.map((x) => x.message).join('; ')}`));
        else throw transient('bigquery_unavailable', `BigQuery could not insert event ${fact.event_id} (${reasons.join(', ')}); the batch will be retried.`);
      }
      pending.forEach((f, i) => {
        if (!failedAt.has(i)) inserted.add(f.event_id);
      });
      pending = retry;
    }
    return { inserted, rejected };
  }

  private filters(q: WarehouseQuery): { sql: string; params: QueryParam[] } {
    const params: QueryParam[] = [
      { name: 'from', type: 'DATE', value: q.from },
      { name: 'to', type: 'DATE', value: q.to },
      { name: 'row_limit', type: 'INT64', value: q.limit },
    ];
    let sql = '';
    if (q.contentId) {
      sql += ' AND content_id = @content_id';
      params.push({ name: 'content_id', type: 'STRING', value: q.contentId });
    }
    if (q.contentType) {
      sql += ' AND content_type = @content_type';
      params.push({ name: 'content_type', type: 'STRING', value: q.contentType });
    }
    return { sql, params };
  }

  async daily(q: WarehouseQuery): Promise<DailyRow[]> {
    await this.prepare();
    const f = this.filters(q);
    const rows = await this.client
      .query(`SELECT * FROM ${this.t('daily_engagement_summary')} WHERE day BETWEEN @from AND @to${f.sql} ORDER BY day, events DESC, content_id LIMIT @row_limit`, f.params)
      .catch((e) => Promise.reject(classify(e)));
    return rows.map((r) => ({ day: String(r.day), ...summaryOf(r) }));
  }

  async hourly(q: WarehouseQuery): Promise<HourlyRow[]> {
    await this.prepare();
    const f = this.filters(q);
    const rows = await this.client
      .query(
        `SELECT * FROM ${this.t('hourly_engagement_trends')} WHERE hour >= TIMESTAMP(@from) AND hour < TIMESTAMP(DATE_ADD(@to, INTERVAL 1 DAY))${f.sql} ORDER BY hour, events DESC, content_id LIMIT @row_limit`,
        f.params,
      )
      .catch((e) => Promise.reject(classify(e)));
    return rows.map((r) => ({ hour: `${String(r.hour).slice(0, 13)}:00:00Z`, ...summaryOf(r) }));
  }

  async *factsSince(fromMs: number, pageSize = 5000): AsyncIterable<EngagementEvent[]> {
    await this.prepare();
    const pages = this.client.queryPages(
      `SELECT CAST(event_id AS STRING) AS event_id, content_id, content_type, slug, title, length_seconds, user_id, event_type, event_ts, duration_ms, device,
              engagement_seconds, engagement_pct, engagement_pct_capped, committed_at
       FROM ${this.t('engagement_facts_unique')} WHERE event_ts >= @since ORDER BY event_id`,
      [{ name: 'since', type: 'TIMESTAMP', value: new Date(fromMs).toISOString() }],
      pageSize,
    );
    const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
    for await (const rows of pages)
      yield rows.map((r) => eventOfFact({ ...(r as unknown as Fact), length_seconds: n(r.length_seconds), duration_ms: n(r.duration_ms) }));
  }

  async count(): Promise<number> {
    await this.prepare();
    const [row] = await this.client.query(`SELECT COUNT(*) AS n FROM ${this.t('engagement_facts_unique')}`);
    return Number(row?.n ?? 0);
  }

  async check() {
    await this.prepare();
    return { kind: this.kind, dataset: `${this.options.projectId}.${this.options.datasetId}` };
  }

  async close() {
    await this.facts.drain().catch(() => {});
  }
}

function classify(error: unknown): AppError {
  if (error instanceof AppError) return error;
  return transient('bigquery_unavailable', `BigQuery failed (${errorMessage(error)}); the batch will be retried.`, { cause: error });
}
