-- ETL: posts loaded from the REST source, the history of every run, and the records a run rejected.

CREATE TABLE posts (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  loaded_at TEXT NOT NULL
);
-- GET /posts?user_id= and the distinct-users figure of GET /stats.
CREATE INDEX posts_user_id ON posts (user_id);

CREATE TABLE etl_runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'partial')),
  extracted INTEGER NOT NULL DEFAULT 0,
  loaded INTEGER NOT NULL DEFAULT 0,
  rejected INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  source_url TEXT NOT NULL,
  duration_ms INTEGER,
  -- A running run is renewed while its process is alive (epoch ms); once it lapses the run counts as abandoned,
  -- so a crash never blocks the next run for ever, even when the CLI and the server share the database.
  lease_until INTEGER
);
-- The "is a run in progress" check and the runs-by-status counts.
CREATE INDEX etl_runs_status ON etl_runs (status);

CREATE TABLE rejected_records (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES etl_runs (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  reason TEXT NOT NULL,
  raw TEXT NOT NULL
);
CREATE INDEX rejected_records_run ON rejected_records (run_id, position);
