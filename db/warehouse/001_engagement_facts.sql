-- The engagement warehouse (Postgres flavour; DuckDB and BigQuery create the same shape in code). One row per
-- engagement event: the primary key is the event id, so a redelivered event is ignored (INSERT … ON CONFLICT
-- DO NOTHING) and every view counts it once.

CREATE TABLE engagement_facts (
  event_id              bigint PRIMARY KEY,
  content_id            uuid NOT NULL,
  content_type          text NOT NULL,
  slug                  text NOT NULL,
  title                 text NOT NULL,
  length_seconds        int,
  user_id               uuid NOT NULL,
  event_type            text NOT NULL,
  event_ts              timestamptz NOT NULL,
  duration_ms           int,
  device                text,
  engagement_seconds    double precision,
  engagement_pct        double precision,
  engagement_pct_capped boolean NOT NULL,
  committed_at          timestamptz,
  loaded_at             timestamptz NOT NULL DEFAULT now()
);

-- Day and hour in UTC, the grouping keys of the views: indexed as expressions so a range asked of a view
-- (`WHERE day BETWEEN …`, pushed down through its GROUP BY) reads only those rows.
CREATE INDEX engagement_facts_day ON engagement_facts (((event_ts AT TIME ZONE 'UTC')::date));
CREATE INDEX engagement_facts_hour ON engagement_facts ((date_trunc('hour', event_ts AT TIME ZONE 'UTC')));

CREATE VIEW daily_engagement_summary AS
SELECT (event_ts AT TIME ZONE 'UTC')::date AS day,
       content_id,
       content_type,
       count(*) AS events,
       count(*) FILTER (WHERE event_type = 'play') AS plays,
       count(*) FILTER (WHERE event_type = 'pause') AS pauses,
       count(*) FILTER (WHERE event_type = 'finish') AS finishes,
       count(*) FILTER (WHERE event_type = 'click') AS clicks,
       count(DISTINCT user_id) AS unique_users,
       coalesce(sum(engagement_seconds), 0) AS total_engagement_seconds,
       avg(engagement_seconds) AS avg_engagement_seconds,
       avg(engagement_pct) AS avg_completion_pct
FROM engagement_facts
GROUP BY 1, 2, 3;

CREATE VIEW hourly_engagement_trends AS
SELECT date_trunc('hour', event_ts AT TIME ZONE 'UTC') AS hour,
       content_id,
       content_type,
       count(*) AS events,
       count(*) FILTER (WHERE event_type = 'play') AS plays,
       count(*) FILTER (WHERE event_type = 'pause') AS pauses,
       count(*) FILTER (WHERE event_type = 'finish') AS finishes,
       count(*) FILTER (WHERE event_type = 'click') AS clicks,
       count(DISTINCT user_id) AS unique_users,
       coalesce(sum(engagement_seconds), 0) AS total_engagement_seconds,
       avg(engagement_seconds) AS avg_engagement_seconds,
       avg(engagement_pct) AS avg_completion_pct
FROM engagement_facts
GROUP BY 1, 2, 3;
