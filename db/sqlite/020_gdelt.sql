-- GDELT lake: the durable ingestion queue and the catalog of batches published in the lake.

-- One row per ingestion request. A job `running` when its worker died is taken over by the next worker
-- (owner = host:pid; a dead pid on this host or an expired lease frees it).
CREATE TABLE gdelt_jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL CHECK (kind IN ('latest', 'range', 'poll')),
  params TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
  planned INTEGER NOT NULL DEFAULT 0,
  batches_total INTEGER NOT NULL DEFAULT 0,
  batches_done INTEGER NOT NULL DEFAULT 0,
  rows INTEGER NOT NULL DEFAULT 0,
  quarantined_rows INTEGER NOT NULL DEFAULT 0,
  errors TEXT NOT NULL DEFAULT '[]',
  attempts INTEGER NOT NULL DEFAULT 0,
  owner TEXT,
  lease_until INTEGER,
  created_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT,
  updated_at TEXT NOT NULL
);
CREATE INDEX gdelt_jobs_state ON gdelt_jobs (state, id);

-- The plan of a job: one row per batch file, so a resumed job redoes only what is not done.
CREATE TABLE gdelt_job_files (
  job_id INTEGER NOT NULL REFERENCES gdelt_jobs (id) ON DELETE CASCADE,
  batch TEXT NOT NULL,
  tbl TEXT NOT NULL,
  name TEXT NOT NULL,
  size INTEGER NOT NULL,
  md5 TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'skipped', 'failed')),
  rows INTEGER,
  error TEXT,
  PRIMARY KEY (job_id, batch, tbl)
);

-- Every batch file published in the lake. The lake also holds a manifest object per batch
-- (_batches/<table>/<batch>.json), so this table can be rebuilt from the lake.
CREATE TABLE gdelt_batches (
  tbl TEXT NOT NULL,
  batch TEXT NOT NULL,
  name TEXT NOT NULL,
  rows INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  md5 TEXT NOT NULL,
  quarantined_rows INTEGER NOT NULL,
  parquet_key TEXT NOT NULL,
  parquet_bytes INTEGER NOT NULL,
  quarantine_key TEXT,
  ingested_at TEXT NOT NULL,
  PRIMARY KEY (tbl, batch)
);
