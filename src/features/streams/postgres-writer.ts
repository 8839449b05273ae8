import { AppError } from '../../platform/errors.ts';
import type { Sql } from '../../platform/stores/postgres.ts';
import type { Checkpoint, CheckpointMeta, WindowRef, WindowResult, WindowRow, WindowStateJson } from './aggregate.ts';
import type { Rejected } from './parse.ts';

/**
 * The exactly-once half of a stream job: window results, dead letters, open-window state and the consumed
 * offsets go into Postgres in ONE transaction, and a (re)started job reads its position back from here.
 * A crash before COMMIT loses the in-memory work and the job re-reads the same records from the stored offsets;
 * a crash after COMMIT loses nothing. Re-running a commit whose outcome was unknown is harmless: every write is
 * an idempotent upsert or delete keyed by (job, key, window) or (job, partition, offset).
 *
 * Generic enough to move to src/platform/stream/ as the transactional results-and-offsets sink.
 */

export type Claim = {
  /** Fencing token of this run; commits carry it. */
  epoch: number;
  /** Absent when the job starts from nothing (first run, or the spec's state fingerprint changed). */
  meta?: CheckpointMeta;
  rows: WindowRow[];
  positions: Map<number, number>;
  /** True when an existing checkpoint was discarded because the spec changed shape. */
  reset: boolean;
};

export type Commit = {
  topic: string;
  /** Next offset per partition after this commit. */
  positions: ReadonlyMap<number, number>;
  checkpoint: Checkpoint;
  /** Results to upsert and retract; retractions apply first. Only written when the job has the postgres sink. */
  results: WindowResult[];
  retracted: WindowRef[];
  rejected: Rejected[];
  emittedAtMs: number;
};

export class FencedError extends AppError {
  constructor(job: string) {
    super('job_fenced', `Stream job ${job} was started elsewhere (or restarted); this run stops so that only one writes its results.`, { status: 409, retryable: false });
  }
}

const bigintOrNull = (x: unknown) => (x === null || x === undefined ? null : Number(x));

export class PostgresResultsWriter {
  constructor(
    private sql: Sql,
    private job: string,
    private options: { writeResults: boolean },
  ) {}

  /**
   * Takes ownership of the job (bumps the epoch) and loads its checkpoint. A checkpoint taken under another state
   * fingerprint is discarded with its offsets and old results, since they were computed by a different definition.
   */
  async claim(fingerprint: string): Promise<Claim> {
    return this.sql.begin(async (tx) => {
      const job = this.job;
      const [existing] = await tx<{ fingerprint: string }[]>`SELECT fingerprint FROM stream_checkpoints WHERE job = ${job} FOR UPDATE`;
      const reset = !!existing && existing.fingerprint !== fingerprint;
      if (reset) {
        await tx`DELETE FROM stream_checkpoints WHERE job = ${job}`;
        await tx`DELETE FROM stream_offsets WHERE job = ${job}`;
        await tx`DELETE FROM stream_window_state WHERE job = ${job}`;
        await tx`DELETE FROM stream_results WHERE job = ${job}`;
      }
      const [cp] = await tx<Record<string, unknown>[]>`
        INSERT INTO stream_checkpoints (job, fingerprint) VALUES (${job}, ${fingerprint})
        ON CONFLICT (job) DO UPDATE SET epoch = stream_checkpoints.epoch + 1
        RETURNING *`;
      const fresh = !existing || reset;
      const offsets = fresh ? [] : await tx<{ partition: number; next_offset: string }[]>`SELECT partition, next_offset FROM stream_offsets WHERE job = ${job}`;
      const rows = fresh ? [] : await tx<{ key: string; window_start: string; state: WindowStateJson }[]>`SELECT key, window_start, state FROM stream_window_state WHERE job = ${job}`;
      const meta: CheckpointMeta | undefined =
        fresh || !cp!.committed_at
          ? undefined
          : {
              watermark: bigintOrNull(cp!.watermark_ms),
              maxEventTime: bigintOrNull(cp!.max_event_ms),
              counters: {
                recordsIn: Number(cp!.records_in),
                filtered: Number(cp!.filtered),
                late: Number(cp!.late),
                dlq: Number(cp!.dlq),
                windowsEmitted: Number(cp!.windows_emitted),
              },
            };
      return {
        epoch: Number(cp!.epoch),
        meta,
        rows: rows.map((r) => ({ key: r.key, start: Number(r.window_start), state: r.state })),
        positions: new Map(offsets.map((o) => [o.partition, Number(o.next_offset)])),
        reset,
      };
    });
  }

  async commit(epoch: number, c: Commit): Promise<void> {
    const job = this.job;
    const { meta, upserts, deletes } = c.checkpoint;
    await this.sql.begin(async (tx) => {
      // First, and under the row lock: a run that lost its epoch must not write anything.
      const fenced = await tx`
        UPDATE stream_checkpoints SET
          watermark_ms = ${meta.watermark}, max_event_ms = ${meta.maxEventTime},
          records_in = ${meta.counters.recordsIn}, filtered = ${meta.counters.filtered}, late = ${meta.counters.late},
          dlq = ${meta.counters.dlq}, windows_emitted = ${meta.counters.windowsEmitted}, committed_at = now()
        WHERE job = ${job} AND epoch = ${epoch}`;
      if (fenced.count !== 1) throw new FencedError(job);

      if (deletes.length)
        await tx`DELETE FROM stream_window_state s USING unnest(${deletes.map((d) => d.key)}::text[], ${deletes.map((d) => d.start)}::bigint[]) AS d(key, start)
                 WHERE s.job = ${job} AND s.key = d.key AND s.window_start = d.start`;
      if (upserts.length)
        await tx`INSERT INTO stream_window_state (job, key, window_start, state)
                 SELECT ${job}, u.key, u.start, u.state::jsonb FROM unnest(${upserts.map((u) => u.key)}::text[], ${upserts.map((u) => u.start)}::bigint[], ${upserts.map((u) => JSON.stringify(u.state))}::text[]) AS u(key, start, state)
                 ON CONFLICT (job, key, window_start) DO UPDATE SET state = EXCLUDED.state`;

      if (this.options.writeResults) {
        if (c.retracted.length)
          await tx`DELETE FROM stream_results r USING unnest(${c.retracted.map((d) => d.key)}::text[], ${c.retracted.map((d) => d.start)}::bigint[]) AS d(key, start)
                   WHERE r.job = ${job} AND r.key = d.key AND r.window_start = to_timestamp(d.start / 1000.0)`;
        const rs = c.results;
        if (rs.length)
          await tx`INSERT INTO stream_results (job, key, window_start, window_end, key_values, result, records, alerts, revision, emitted_at)
                   SELECT ${job}, r.key, to_timestamp(r.start / 1000.0), to_timestamp(r.end_ / 1000.0), r.kv::jsonb, r.result::jsonb, r.records, ARRAY(SELECT jsonb_array_elements_text(r.alerts::jsonb)), r.revision, to_timestamp(${c.emittedAtMs} / 1000.0)
                   FROM unnest(${rs.map((r) => r.key)}::text[], ${rs.map((r) => r.start)}::bigint[], ${rs.map((r) => r.end)}::bigint[], ${rs.map((r) => JSON.stringify(r.keyValues))}::text[],
                               ${rs.map((r) => JSON.stringify(r.values))}::text[], ${rs.map((r) => r.records)}::bigint[], ${rs.map((r) => JSON.stringify(r.alerts))}::text[], ${rs.map((r) => r.revision)}::int[])
                        AS r(key, start, end_, kv, result, records, alerts, revision)
                   ON CONFLICT (job, key, window_start) DO UPDATE SET
                     window_end = EXCLUDED.window_end, key_values = EXCLUDED.key_values, result = EXCLUDED.result, records = EXCLUDED.records,
                     alerts = EXCLUDED.alerts, revision = EXCLUDED.revision, emitted_at = EXCLUDED.emitted_at`;
      }

      const dl = c.rejected;
      if (dl.length)
        await tx`INSERT INTO stream_dlq (job, topic, partition, "offset", reason, detail, value, event_time)
                 SELECT ${job}, ${c.topic}, d.partition, d.off, d.reason, d.detail, d.value, to_timestamp(d.t / 1000.0)
                 FROM unnest(${dl.map((d) => d.partition)}::int[], ${dl.map((d) => d.offset)}::bigint[], ${dl.map((d) => d.reason)}::text[], ${dl.map((d) => d.detail)}::text[],
                             ${dl.map((d) => d.value ?? null)}::text[], ${dl.map((d) => d.eventTimeMs ?? null)}::float8[]) AS d(partition, off, reason, detail, value, t)
                 ON CONFLICT DO NOTHING`;

      const partitions = [...c.positions.keys()];
      if (partitions.length)
        await tx`INSERT INTO stream_offsets (job, topic, partition, next_offset)
                 SELECT ${job}, ${c.topic}, o.partition, o.next FROM unnest(${partitions}::int[], ${partitions.map((p) => c.positions.get(p)!)}::bigint[]) AS o(partition, next)
                 ON CONFLICT (job, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset`;
    });
  }
}

export type ResultRow = {
  key: string;
  key_values: Record<string, unknown>;
  start_ms: string | number;
  end_ms: string | number;
  result: Record<string, number | null>;
  records: string | number;
  alerts: string[];
  revision: number;
};

export const resultFromRow = (r: ResultRow): WindowResult => ({
  key: r.key,
  keyValues: r.key_values,
  start: Math.round(Number(r.start_ms)),
  end: Math.round(Number(r.end_ms)),
  values: r.result,
  records: Number(r.records),
  revision: r.revision,
  alerts: r.alerts,
});
