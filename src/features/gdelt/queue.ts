import type { Database } from 'bun:sqlite';
import { hostname } from 'node:os';
import type { ManifestEntry, ManifestProblem } from './manifest.ts';

export type JobKind = 'latest' | 'range' | 'poll';
export type JobState = 'queued' | 'running' | 'succeeded' | 'failed';
export type JobParams = { n_batches?: number; from?: string; to?: string };
export type JobError = { code: string; message: string; batch?: string; table?: string; line?: number };

/** A job as the API shows it. */
export type JobView = {
  job_id: number;
  kind: JobKind;
  state: JobState;
  params: JobParams;
  batches_total: number;
  batches_done: number;
  rows: number;
  quarantined_rows: number;
  errors: JobError[];
  attempts: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
};

type JobRow = Omit<JobView, 'job_id' | 'params' | 'errors'> & { id: number; params: string; errors: string; planned: number; owner: string | null; lease_until: number | null };
export type FileRow = { job_id: number; batch: string; tbl: ManifestEntry['table']; name: string; size: number; md5: string; state: 'pending' | 'done' | 'skipped' | 'failed'; rows: number | null; error: string | null };

const view = (r: JobRow): JobView => ({
  job_id: r.id,
  kind: r.kind,
  state: r.state,
  params: JSON.parse(r.params),
  batches_total: r.batches_total,
  batches_done: r.batches_done,
  rows: r.rows,
  quarantined_rows: r.quarantined_rows,
  errors: JSON.parse(r.errors),
  attempts: r.attempts,
  created_at: r.created_at,
  started_at: r.started_at,
  finished_at: r.finished_at,
  updated_at: r.updated_at,
});

/** This process, as recorded in a job it holds. */
export const processOwner = () => `${hostname()}:${process.pid}`;

function ownerIsGone(owner: string): boolean {
  const [host, pid] = owner.split(':');
  if (host !== hostname() || !pid) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch {
    return true;
  }
}

/**
 * The durable ingestion queue in SQLite. Jobs are taken one at a time; every step is committed, so a worker
 * that dies mid-job leaves a `running` job with its plan, and the next worker resumes it where it stopped.
 */
export class JobQueue {
  constructor(
    private db: Database,
    private now: () => number,
  ) {}

  private iso() {
    return new Date(this.now()).toISOString();
  }

  enqueue(kind: JobKind, params: JobParams): JobView {
    const at = this.iso();
    const id = this.db
      .query<{ id: number }, [string, string, string, string]>("INSERT INTO gdelt_jobs (kind, params, state, created_at, updated_at) VALUES (?, ?, 'queued', ?, ?) RETURNING id")
      .get(kind, JSON.stringify(params), at, at)!.id;
    return this.get(id)!;
  }

  get(id: number): JobView | undefined {
    const r = this.db.query<JobRow, [number]>('SELECT * FROM gdelt_jobs WHERE id = ?').get(id);
    return r ? view(r) : undefined;
  }

  list(options: { limit: number; offset: number; state?: JobState }): { items: JobView[]; total: number } {
    const where = options.state ? 'WHERE state = ?' : '';
    const args = options.state ? [options.state] : [];
    const items = this.db.query<JobRow, (string | number)[]>(`SELECT * FROM gdelt_jobs ${where} ORDER BY id DESC LIMIT ? OFFSET ?`).all(...args, options.limit, options.offset).map(view);
    const total = this.db.query<{ n: number }, string[]>(`SELECT count(*) AS n FROM gdelt_jobs ${where}`).get(...args)!.n;
    return { items, total };
  }

  /** Jobs waiting or left running (by a worker that died). */
  openCount(): number {
    return this.db.query<{ n: number }, []>("SELECT count(*) AS n FROM gdelt_jobs WHERE state IN ('queued', 'running')").get()!.n;
  }

  /** True when a job of this kind is queued or running (the poller does not pile up jobs). */
  hasOpen(kind: JobKind): boolean {
    return !!this.db.query("SELECT 1 FROM gdelt_jobs WHERE kind = ? AND state IN ('queued', 'running') LIMIT 1").get(kind);
  }

  /**
   * Takes the next job: first a `running` one whose worker is gone (this process after a worker restart, a dead
   * pid on this host, or an expired lease), else the oldest `queued` one.
   */
  claim(owner: string, leaseMs: number): (JobView & { planned: boolean }) | undefined {
    return this.db.transaction(() => {
      const now = this.now();
      const running = this.db.query<JobRow, []>("SELECT * FROM gdelt_jobs WHERE state = 'running' ORDER BY id").all();
      const orphan = running.find((r) => !r.owner || r.owner === owner || ownerIsGone(r.owner) || (r.lease_until ?? 0) < now);
      const next = orphan ?? this.db.query<JobRow, []>("SELECT * FROM gdelt_jobs WHERE state = 'queued' ORDER BY id LIMIT 1").get();
      if (!next) return undefined;
      const at = this.iso();
      this.db
        .query("UPDATE gdelt_jobs SET state = 'running', owner = ?, lease_until = ?, attempts = attempts + 1, started_at = coalesce(started_at, ?), updated_at = ? WHERE id = ?")
        .run(owner, now + leaseMs, at, at, next.id);
      const r = this.db.query<JobRow, [number]>('SELECT * FROM gdelt_jobs WHERE id = ?').get(next.id)!;
      return { ...view(r), planned: r.planned === 1 };
    })();
  }

  heartbeat(id: number, owner: string, leaseMs: number) {
    this.db.query('UPDATE gdelt_jobs SET lease_until = ? WHERE id = ? AND owner = ?').run(this.now() + leaseMs, id, owner);
  }

  /** Stores the resolved list of files (once per job) and the manifest problems met while resolving it. */
  plan(id: number, batches: { batch: string; files: ManifestEntry[] }[], problems: ManifestProblem[]) {
    this.db.transaction(() => {
      const ins = this.db.query('INSERT OR IGNORE INTO gdelt_job_files (job_id, batch, tbl, name, size, md5) VALUES (?, ?, ?, ?, ?, ?)');
      for (const b of batches) for (const f of b.files) ins.run(id, f.batch, f.table, f.name, f.size, f.md5);
      const errors: JobError[] = problems.map((p) => ({ code: 'manifest_line_invalid', message: `manifest line ${p.line} ${JSON.stringify(p.text)}: ${p.reason}`, line: p.line }));
      this.db.query('UPDATE gdelt_jobs SET planned = 1, batches_total = ?, errors = ?, updated_at = ? WHERE id = ?').run(batches.length, JSON.stringify(errors), this.iso(), id);
    })();
  }

  pendingFiles(id: number): FileRow[] {
    return this.db.query<FileRow, [number]>("SELECT * FROM gdelt_job_files WHERE job_id = ? AND state = 'pending' ORDER BY batch, tbl").all(id);
  }

  /** Records one file's outcome and refreshes the job's counters in the same transaction. */
  fileDone(id: number, file: Pick<FileRow, 'batch' | 'tbl'>, outcome: { state: 'done' | 'skipped' | 'failed'; rows: number; quarantined: number; error?: JobError }) {
    this.db.transaction(() => {
      this.db
        .query('UPDATE gdelt_job_files SET state = ?, rows = ?, error = ? WHERE job_id = ? AND batch = ? AND tbl = ?')
        .run(outcome.state, outcome.rows, outcome.error ? JSON.stringify(outcome.error) : null, id, file.batch, file.tbl);
      const job = this.db.query<JobRow, [number]>('SELECT * FROM gdelt_jobs WHERE id = ?').get(id)!;
      const errors: JobError[] = JSON.parse(job.errors);
      if (outcome.error) errors.push(outcome.error);
      const done = this.db
        .query<{ n: number }, [number]>(
          "SELECT count(*) AS n FROM (SELECT batch FROM gdelt_job_files WHERE job_id = ? GROUP BY batch HAVING sum(state = 'pending') = 0)",
        )
        .get(id)!.n;
      this.db
        .query('UPDATE gdelt_jobs SET batches_done = ?, rows = rows + ?, quarantined_rows = quarantined_rows + ?, errors = ?, updated_at = ? WHERE id = ?')
        .run(done, outcome.rows, outcome.quarantined, JSON.stringify(errors), this.iso(), id);
    })();
  }

  /** Ends a job: failed when a file failed or when `more` errors are given (a plan or index failure). */
  finish(id: number, more: JobError[] = []) {
    this.db.transaction(() => {
      const job = this.db.query<JobRow, [number]>('SELECT * FROM gdelt_jobs WHERE id = ?').get(id)!;
      const errors: JobError[] = [...JSON.parse(job.errors), ...more];
      const failedFiles = this.db.query<{ n: number }, [number]>("SELECT count(*) AS n FROM gdelt_job_files WHERE job_id = ? AND state = 'failed'").get(id)!.n;
      const state: JobState = more.length > 0 || failedFiles > 0 ? 'failed' : 'succeeded';
      const at = this.iso();
      this.db
        .query('UPDATE gdelt_jobs SET state = ?, errors = ?, finished_at = ?, updated_at = ?, owner = NULL, lease_until = NULL WHERE id = ?')
        .run(state, JSON.stringify(errors), at, at, id);
    })();
  }
}
