import type { Database } from 'bun:sqlite';
import { conflict } from '../../platform/errors.ts';
import { RUN_STATUSES, type RejectedRecord, type Run, type RunDetail, type RunStatus } from './model.ts';
import type { Rejection } from './transform.ts';

/**
 * The `etl_runs` and `rejected_records` tables. Starting a run is a check-and-insert in one IMMEDIATE
 * transaction, so two processes sharing the file (the server and `bun run etl`) cannot both start one.
 */

const RUN_COLUMNS = 'id, status, started_at, finished_at, extracted, loaded, rejected, error, duration_ms';
const iso = (ms: number) => new Date(ms).toISOString();

export type Finish = { status: Exclude<RunStatus, 'running'>; extracted: number; loaded: number; rejected: number; error: string | null; durationMs: number };

export class RunStore {
  constructor(
    private db: Database,
    private options: { now: () => number; leaseMs: number },
  ) {}

  /** Creates a `running` run, or throws 409 `etl_running` with the id of the run in progress. */
  start(sourceUrl: string): Run {
    const now = this.options.now();
    return this.db.transaction(() => {
      this.reapAbandoned(now);
      const running = this.db.query<{ id: number; started_at: string }, []>("SELECT id, started_at FROM etl_runs WHERE status = 'running' ORDER BY id LIMIT 1").get();
      if (running)
        throw conflict('etl_running', `ETL run ${running.id} has been running since ${running.started_at}; only one run at a time. Wait for it (GET /etl/runs/${running.id}) and try again.`, { run_id: running.id });
      return this.db
        .query<Run, [string, string, number]>(`INSERT INTO etl_runs (started_at, status, source_url, lease_until) VALUES (?, 'running', ?, ?) RETURNING ${RUN_COLUMNS}`)
        .get(iso(now), sourceUrl, now + this.options.leaseMs)!;
    }).immediate();
  }

  /** Renews the run's lease and records how far extraction got, for the live status. */
  progress(id: number, extracted: number, rejected: number) {
    this.db.query("UPDATE etl_runs SET extracted = ?, rejected = ?, lease_until = ? WHERE id = ? AND status = 'running'").run(extracted, rejected, this.options.now() + this.options.leaseMs, id);
  }

  finish(id: number, f: Finish): Run {
    const now = this.options.now();
    return this.db
      .query<Run, [string, string, number, number, number, string | null, number, number]>(
        `UPDATE etl_runs SET status = ?, finished_at = ?, extracted = ?, loaded = ?, rejected = ?, error = ?, duration_ms = ?, lease_until = NULL
         WHERE id = ? RETURNING ${RUN_COLUMNS}`,
      )
      .get(f.status, iso(now), f.extracted, f.loaded, f.rejected, f.error, Math.max(0, Math.round(f.durationMs)), id)!;
  }

  saveRejected(runId: number, rejected: readonly Rejection[]) {
    if (!rejected.length) return;
    const insert = this.db.query('INSERT INTO rejected_records (run_id, position, reason, raw) VALUES (?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const r of rejected) insert.run(runId, r.position, r.reason, r.raw);
    })();
  }

  /** Marks runs whose process stopped renewing their lease as failed, so they no longer block new runs. */
  reapAbandoned(now = this.options.now()): number {
    return this.db
      .query("UPDATE etl_runs SET status = 'failed', finished_at = ?, error = 'abandoned: the process running it stopped before it finished (its lease expired)', lease_until = NULL WHERE status = 'running' AND lease_until < ?")
      .run(iso(now), now).changes;
  }

  get(id: number): Run | null {
    return this.db.query<Run, [number]>(`SELECT ${RUN_COLUMNS} FROM etl_runs WHERE id = ?`).get(id);
  }

  detail(id: number, rejectedLimit: number): RunDetail | null {
    const run = this.db.query<Run & { source_url: string }, [number]>(`SELECT ${RUN_COLUMNS}, source_url FROM etl_runs WHERE id = ?`).get(id);
    if (!run) return null;
    const rejected_records = this.db
      .query<RejectedRecord, [number, number]>('SELECT position, reason, raw FROM rejected_records WHERE run_id = ? ORDER BY position LIMIT ?')
      .all(id, rejectedLimit);
    return { ...run, rejected_records };
  }

  list(limit: number, offset: number): { items: Run[]; total: number } {
    const items = this.db.query<Run, [number, number]>(`SELECT ${RUN_COLUMNS} FROM etl_runs ORDER BY id DESC LIMIT ? OFFSET ?`).all(limit, offset);
    const total = this.db.query<{ n: number }, []>('SELECT count(*) AS n FROM etl_runs').get()!.n;
    return { items, total };
  }

  last(): Run | null {
    return this.db.query<Run, []>(`SELECT ${RUN_COLUMNS} FROM etl_runs ORDER BY id DESC LIMIT 1`).get();
  }

  /** Epoch ms of the newest run's start, for the schedule. */
  lastStartedAt(): number | undefined {
    const row = this.db.query<{ started_at: string }, []>('SELECT started_at FROM etl_runs ORDER BY id DESC LIMIT 1').get();
    return row ? Date.parse(row.started_at) : undefined;
  }

  countsByStatus(): Record<RunStatus, number> {
    const counts = Object.fromEntries(RUN_STATUSES.map((s) => [s, 0])) as Record<RunStatus, number>;
    for (const r of this.db.query<{ status: RunStatus; n: number }, []>('SELECT status, count(*) AS n FROM etl_runs GROUP BY status').all()) counts[r.status] = r.n;
    return counts;
  }
}
