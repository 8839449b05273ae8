-- Engagement pipeline, part 2.

-- An index of the dead-letter topic (<events topic>.dlq), written in the same step as the topic, before the
-- batch's offsets are committed: GET /dlq lists it and POST /dlq/replay finds letters by id without scanning
-- the topic. The topic stays the durable record with the original bytes and the dlq-* headers. A replay that
-- fails again updates the letter's reason and error.
CREATE TABLE dead_letters (
  -- One letter per event and sink (message id + sink); a record without an id, per source position and sink.
  -- The same event can reach the processor twice (redelivery, or the CDC relay replaying after a restart):
  -- it is still one letter.
  letter_key       text PRIMARY KEY,
  source_topic     text NOT NULL,
  source_partition int NOT NULL,      -- -1: not from Kafka (backfill reads the table)
  source_offset    bigint NOT NULL,   -- the event id for backfill letters
  sink             text NOT NULL,     -- '' when the record was refused before the fan-out (decode, enrichment)
  message_id       text,
  reason           text NOT NULL,
  error            text NOT NULL,
  attempts         int NOT NULL,
  first_failure    timestamptz NOT NULL,
  last_failure     timestamptz NOT NULL,
  record_key       bytea,
  record_value     bytea,
  headers          jsonb NOT NULL,
  dead_at          timestamptz NOT NULL DEFAULT now(),
  replayed_at      timestamptz
);
CREATE INDEX dead_letters_message_id ON dead_letters (message_id);
CREATE INDEX dead_letters_dead_at ON dead_letters (dead_at DESC);

-- Backfill checkpoints: a job is one date range; its id range is cut into lanes, each read in key order and
-- checkpointed after every batch the sinks acknowledged, so an interrupted job resumes where each lane stopped.
CREATE TABLE engagement_backfill_lanes (
  job         text NOT NULL,
  lane        int NOT NULL,
  first_id    bigint NOT NULL,
  last_id     bigint NOT NULL,
  done_id     bigint NOT NULL,
  events_done bigint NOT NULL DEFAULT 0,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job, lane)
);
