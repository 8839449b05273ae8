-- Stream analytics (src/features/streams). A job's results, open-window state, dead letters and consumed offsets
-- are written in ONE transaction per commit, and a restarted job resumes from stream_offsets (never from Kafka's
-- committed offsets): a crash can neither lose a record nor count it twice.

-- Job definitions: from files under STREAMS_DIR (origin 'file') or POST /api/v1/streams/jobs (origin 'api').
CREATE TABLE IF NOT EXISTS stream_jobs (
  name        text PRIMARY KEY,
  spec        jsonb NOT NULL,
  origin      text NOT NULL CHECK (origin IN ('file', 'api')),
  file        text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per job: the job-level part of the checkpoint. `epoch` is a fencing token bumped by every start; a
-- commit is refused unless it still holds the current epoch, so a stalled old run can never overwrite a new one.
-- `fingerprint` identifies the spec parts that shape state; a different one means the checkpoint is discarded.
CREATE TABLE IF NOT EXISTS stream_checkpoints (
  job              text PRIMARY KEY,
  fingerprint      text NOT NULL,
  epoch            bigint NOT NULL DEFAULT 1,
  watermark_ms     bigint,
  max_event_ms     bigint,
  records_in       bigint NOT NULL DEFAULT 0,
  filtered         bigint NOT NULL DEFAULT 0,
  late             bigint NOT NULL DEFAULT 0,
  dlq              bigint NOT NULL DEFAULT 0,
  windows_emitted  bigint NOT NULL DEFAULT 0,
  committed_at     timestamptz
);

-- Next offset to read per partition: the position the job resumes from.
CREATE TABLE IF NOT EXISTS stream_offsets (
  job          text NOT NULL,
  topic        text NOT NULL,
  partition    int NOT NULL,
  next_offset  bigint NOT NULL,
  PRIMARY KEY (job, topic, partition)
);

-- Open windows (accumulators and sketches as JSON), so a restart does not re-read the topic from the start.
CREATE TABLE IF NOT EXISTS stream_window_state (
  job           text NOT NULL,
  key           text NOT NULL,
  window_start  bigint NOT NULL,
  state         jsonb NOT NULL,
  PRIMARY KEY (job, key, window_start)
);

-- Window results of every job in one table: aggregates are a JSON object named by the spec, so a job can be
-- created over the API without DDL. Upserted on every (re-)emission; deleted when a session merge retracts one.
CREATE TABLE IF NOT EXISTS stream_results (
  job           text NOT NULL,
  key           text NOT NULL,
  window_start  timestamptz NOT NULL,
  window_end    timestamptz NOT NULL,
  key_values    jsonb NOT NULL,
  result        jsonb NOT NULL,
  records       bigint NOT NULL,
  alerts        text[] NOT NULL DEFAULT '{}',
  revision      int NOT NULL,
  emitted_at    timestamptz NOT NULL,
  PRIMARY KEY (job, key, window_start)
);
CREATE INDEX IF NOT EXISTS stream_results_by_time ON stream_results (job, window_start);

-- Records a job could not use, with the reason: unparseable, wrong type, far future, later than the lateness.
CREATE TABLE IF NOT EXISTS stream_dlq (
  job          text NOT NULL,
  topic        text NOT NULL,
  partition    int NOT NULL,
  "offset"     bigint NOT NULL,
  reason       text NOT NULL,
  detail       text NOT NULL,
  value        text,
  event_time   timestamptz,
  recorded_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job, topic, partition, "offset")
);
