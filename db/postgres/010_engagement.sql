-- Engagement source tables, read by the CDC relay (publication and slot are created in code: they are
-- database-wide objects named after the schema).

CREATE TABLE content (
  id             uuid PRIMARY KEY,
  slug           text NOT NULL UNIQUE,
  title          text NOT NULL,
  content_type   text NOT NULL CHECK (content_type IN ('podcast', 'newsletter', 'video')),
  length_seconds int CHECK (length_seconds > 0),
  publish_ts     timestamptz
);

CREATE TABLE engagement_events (
  id          bigserial PRIMARY KEY,
  content_id  uuid REFERENCES content (id),
  user_id     uuid NOT NULL,
  event_type  text NOT NULL CHECK (event_type IN ('play', 'pause', 'finish', 'click')),
  event_ts    timestamptz NOT NULL,
  duration_ms int CHECK (duration_ms >= 0),
  device      text,
  raw_payload jsonb
);

-- Time-range reads (backfill by date, warehouse rebuilds) and per-content drill-downs.
CREATE INDEX engagement_events_event_ts ON engagement_events (event_ts);
CREATE INDEX engagement_events_content_ts ON engagement_events (content_id, event_ts);

-- Content rows are updated (titles, lengths): FULL makes an update carry the whole old row, so a change of a
-- large (TOASTed) column that did not change still arrives with its value. Events are insert-only, so the
-- primary key (DEFAULT) identifies them.
ALTER TABLE content REPLICA IDENTITY FULL;
ALTER TABLE engagement_events REPLICA IDENTITY DEFAULT;
