import type { Sql } from '../../platform/stores/postgres.ts';
import type { WindowResult } from './aggregate.ts';
import { resultFromRow, type ResultRow } from './postgres-writer.ts';
import type { JobSpec } from './spec.ts';

/** Job definitions, checkpoints and results as the API reads them (the running job writes through its writer). */

export type JobOrigin = 'file' | 'api';
export type JobRow = { name: string; spec: JobSpec; origin: JobOrigin; file: string | null; created_at: Date };
export type CheckpointRow = {
  job: string;
  watermark_ms: string | null;
  records_in: string;
  filtered: string;
  late: string;
  dlq: string;
  windows_emitted: string;
  committed_at: Date | null;
};
export type DlqRow = { partition: number; offset: string; reason: string; detail: string; value: string | null; event_time: Date | null; recorded_at: Date };
export type ResultsQuery = { key?: string; fromMs?: number; toMs?: number; limit: number };

export class StreamsRepository {
  constructor(private sql: Sql) {}

  listJobs(): Promise<JobRow[]> {
    return this.sql<JobRow[]>`SELECT name, spec, origin, file, created_at FROM stream_jobs ORDER BY name`;
  }

  async getJob(name: string): Promise<JobRow | undefined> {
    const [row] = await this.sql<JobRow[]>`SELECT name, spec, origin, file, created_at FROM stream_jobs WHERE name = ${name}`;
    return row;
  }

  /** False when a job of that name exists already. */
  async insertJob(spec: JobSpec, origin: JobOrigin, file: string | null = null): Promise<boolean> {
    const rows = await this.sql`INSERT INTO stream_jobs (name, spec, origin, file) VALUES (${spec.name}, ${this.sql.json(spec as never)}, ${origin}, ${file}) ON CONFLICT (name) DO NOTHING RETURNING name`;
    return rows.length === 1;
  }

  /** A file job takes its file's current content; false when an API job already owns the name. */
  async upsertFileJob(spec: JobSpec, file: string): Promise<boolean> {
    const rows = await this.sql`
      INSERT INTO stream_jobs (name, spec, origin, file) VALUES (${spec.name}, ${this.sql.json(spec as never)}, 'file', ${file})
      ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec, file = EXCLUDED.file, updated_at = now() WHERE stream_jobs.origin = 'file'
      RETURNING name`;
    return rows.length === 1;
  }

  /** Forgets a job's definition, checkpoint and position; its results and dead letters stay. */
  async deleteJob(name: string): Promise<void> {
    await this.sql.begin(async (tx) => {
      await tx`DELETE FROM stream_jobs WHERE name = ${name}`;
      await tx`DELETE FROM stream_checkpoints WHERE job = ${name}`;
      await tx`DELETE FROM stream_offsets WHERE job = ${name}`;
      await tx`DELETE FROM stream_window_state WHERE job = ${name}`;
    });
  }

  async checkpoints(): Promise<Map<string, CheckpointRow>> {
    const rows = await this.sql<CheckpointRow[]>`SELECT job, watermark_ms, records_in, filtered, late, dlq, windows_emitted, committed_at FROM stream_checkpoints`;
    return new Map(rows.map((r) => [r.job, r]));
  }

  async offsets(job: string): Promise<{ partition: number; next_offset: number }[]> {
    const rows = await this.sql<{ partition: number; next_offset: string }[]>`SELECT partition, next_offset FROM stream_offsets WHERE job = ${job} ORDER BY partition`;
    return rows.map((r) => ({ partition: r.partition, next_offset: Number(r.next_offset) }));
  }

  async results(job: string, q: ResultsQuery): Promise<WindowResult[]> {
    const sql = this.sql;
    const rows = await sql<ResultRow[]>`
      SELECT key, key_values, extract(epoch FROM window_start) * 1000 AS start_ms, extract(epoch FROM window_end) * 1000 AS end_ms, result, records, alerts, revision
      FROM stream_results
      WHERE job = ${job}
        ${q.key !== undefined ? sql`AND key = ${q.key}` : sql``}
        ${q.fromMs !== undefined ? sql`AND window_start >= to_timestamp(${q.fromMs / 1000})` : sql``}
        ${q.toMs !== undefined ? sql`AND window_start < to_timestamp(${q.toMs / 1000})` : sql``}
      ORDER BY window_start DESC, key
      LIMIT ${q.limit}`;
    return rows.map(resultFromRow);
  }

  async latestPerKey(job: string): Promise<WindowResult[]> {
    const rows = await this.sql<ResultRow[]>`
      SELECT DISTINCT ON (key) key, key_values, extract(epoch FROM window_start) * 1000 AS start_ms, extract(epoch FROM window_end) * 1000 AS end_ms, result, records, alerts, revision
      FROM stream_results WHERE job = ${job} ORDER BY key, window_start DESC`;
    return rows.map(resultFromRow);
  }

  async hasResults(job: string): Promise<boolean> {
    const [row] = await this.sql`SELECT 1 FROM stream_results WHERE job = ${job} LIMIT 1`;
    return !!row;
  }

  dlq(job: string, limit: number): Promise<DlqRow[]> {
    return this.sql<DlqRow[]>`SELECT partition, "offset", reason, detail, value, event_time, recorded_at FROM stream_dlq WHERE job = ${job} ORDER BY recorded_at DESC, partition, "offset" DESC LIMIT ${limit}`;
  }
}
