import { t } from 'elysia';
import { z } from 'zod';

export const EVENT_TYPES = ['play', 'pause', 'finish', 'click'] as const;
export const CONTENT_TYPES = ['podcast', 'newsletter', 'video'] as const;
export type EventType = (typeof EVENT_TYPES)[number];
export type ContentType = (typeof CONTENT_TYPES)[number];

const isoTime = z.iso.datetime({ offset: true });

/** An `engagement_events` row as the CDC relay publishes it (JSON value of the engagement topic). */
export const EngagementEventMessage = z.object({
  id: z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(String),
  content_id: z.uuid().nullable(),
  user_id: z.uuid(),
  event_type: z.enum(EVENT_TYPES),
  event_ts: isoTime,
  duration_ms: z.number().int().nonnegative().nullable(),
  device: z.string().nullable().optional().transform((v) => v ?? null),
  raw_payload: z.unknown().optional().transform((v) => v ?? null),
});
export type EngagementEventMessage = z.output<typeof EngagementEventMessage>;

/** A `content` row as published on the compacted content topic (key = id; a null value deletes). */
export const ContentMessage = z.object({
  id: z.uuid(),
  slug: z.string().min(1),
  title: z.string(),
  content_type: z.enum(CONTENT_TYPES),
  length_seconds: z.number().int().positive().nullable(),
  publish_ts: isoTime.nullable(),
});
export type Content = z.output<typeof ContentMessage>;

/** What the processor hands to every sink: the event, its content, and the derived measures. */
export type EngagementEvent = EngagementEventMessage & {
  content_id: string;
  slug: string;
  title: string;
  content_type: ContentType;
  length_seconds: number | null;
  /** duration_ms / 1000; null when duration_ms is null. */
  engagement_seconds: number | null;
  /** engagement_seconds / length_seconds × 100, at most 100; null when either is missing. */
  engagement_pct: number | null;
  /** true when the event says more was consumed than the content lasts; engagement_pct was capped at 100. */
  engagement_pct_capped: boolean;
  /** Source commit time (from the CDC header), for end-to-end latency; null when unknown. */
  committed_at: string | null;
};

// ---- HTTP schemas (type, validator and OpenAPI doc in one)

const Uuid = t.String({ format: 'uuid', description: 'content id (uuid)' });
const WindowMinutes = t.Optional(t.Integer({ minimum: 1, maximum: 1440, description: 'window in minutes (default REDIS_AGGREGATION_WINDOW_MINUTES, at most that)' }));

export const TopContentQuery = t.Object({
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 1000, default: 10 })),
  window_minutes: WindowMinutes,
  content_type: t.Optional(t.Union(CONTENT_TYPES.map((c) => t.Literal(c)), { description: 'only this type' })),
});
export const WindowQuery = t.Object({ window_minutes: WindowMinutes });
export const RecentQuery = t.Object({ count: t.Optional(t.Integer({ minimum: 1, maximum: 50, default: 50 })) });
export const ContentParams = t.Object({ id: Uuid });

const Nullable = <T extends ReturnType<typeof t.Number>>(s: T) => t.Union([s, t.Null()]);

export const TopContentItem = t.Object({
  content_id: t.String(),
  slug: t.Union([t.String(), t.Null()]),
  title: t.Union([t.String(), t.Null()]),
  content_type: t.Union([t.String(), t.Null()]),
  events: t.Integer(),
  unique_users: t.Integer({ description: 'HyperLogLog estimate (exact below a few hundred)' }),
  engagement_seconds: t.Number({ description: 'total engagement seconds in the window' }),
  avg_completion_pct: Nullable(t.Number()),  events_per_minute: t.Array(t.Integer(), { description: 'events per 1-minute bucket of the window, oldest first (the current minute last)' }),
});
export const TopContentReply = t.Object({ window_minutes: t.Integer(), items: t.Array(TopContentItem) });

export const ContentStatsReply = t.Object({
  content_id: t.String(),
  window_minutes: t.Integer(),
  events: t.Integer(),
  counts: t.Object({ play: t.Integer(), pause: t.Integer(), finish: t.Integer(), click: t.Integer() }),
  unique_users: t.Integer(),
  total_engagement_seconds: t.Number(),
  avg_engagement_seconds: Nullable(t.Number()),
  avg_completion_pct: Nullable(t.Number()),  events_per_minute: t.Array(t.Integer(), { description: 'events per 1-minute bucket of the window, oldest first (the current minute last)' }),
});

export const RecentEvent = t.Object(
  {
    id: t.String(),
    content_id: t.String(),
    user_id: t.String(),
    event_type: t.String(),
    event_ts: t.String(),
    duration_ms: t.Union([t.Integer(), t.Null()]),
    device: t.Union([t.String(), t.Null()]),
    engagement_seconds: Nullable(t.Number()),
    engagement_pct: Nullable(t.Number()),
    engagement_pct_capped: t.Boolean(),
  },
  { additionalProperties: true },
);
export const RecentEventsReply = t.Object({ items: t.Array(RecentEvent) });

// ---- Warehouse and DLQ API (part 2)

const Day = t.String({ format: 'date', description: 'a UTC day, YYYY-MM-DD' });
export const WarehouseRangeQuery = t.Object({
  from: t.Optional(Day),
  to: t.Optional(Day),
  content_id: t.Optional(Uuid),
  content_type: t.Optional(t.Union(CONTENT_TYPES.map((c) => t.Literal(c)), { description: 'only this type' })),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 10_000, default: 1000 })),
});

const Measures = {
  content_id: t.String(),
  content_type: t.String(),
  events: t.Integer(),
  plays: t.Integer(),
  pauses: t.Integer(),
  finishes: t.Integer(),
  clicks: t.Integer(),
  unique_users: t.Integer({ description: 'exact count of distinct users' }),
  total_engagement_seconds: t.Number(),
  avg_engagement_seconds: Nullable(t.Number()),
  avg_completion_pct: Nullable(t.Number()),
};
export const DailyReply = t.Object({ from: t.String(), to: t.String(), items: t.Array(t.Object({ day: t.String(), ...Measures })) });
export const HourlyReply = t.Object({ from: t.String(), to: t.String(), items: t.Array(t.Object({ hour: t.String({ description: 'start of the UTC hour' }), ...Measures })) });

export const DlqQuery = t.Object({
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 1000, default: 50 })),
  sink: t.Optional(t.String({ minLength: 1, maxLength: 64, description: 'only letters of this sink (redis, warehouse, rest)' })),
  reason: t.Optional(t.String({ minLength: 1, maxLength: 64, description: 'only this reason (rest_rejected, unknown_content…)' })),
  pending: t.Optional(t.Boolean({ description: 'only letters not replayed yet' })),
});
export const DeadLetterItem = t.Object({
  id: t.Union([t.String(), t.Null()], { description: 'message id (engagement_events:<id>); null when the record could not be decoded' }),
  sink: t.Union([t.String(), t.Null()], { description: 'the sink that gave up; null when refused before the fan-out' }),
  reason: t.String(),
  error: t.String(),
  attempts: t.Integer(),
  first_failure: t.String(),
  last_failure: t.String(),
  dead_at: t.String(),
  replayed_at: t.Union([t.String(), t.Null()]),
  source: t.Object({ topic: t.String(), partition: t.Integer(), offset: t.String() }),
  key: t.Union([t.String(), t.Null()]),
  value: t.Union([t.String(), t.Null()], { description: 'the original record value (UTF-8)' }),
});
export const DlqReply = t.Object({ topic: t.String(), total: t.Integer(), pending: t.Integer(), items: t.Array(DeadLetterItem) });

export const ReplayQuery = t.Object({
  sink: t.Optional(t.String({ minLength: 1, maxLength: 64, description: 'replay only letters of this sink, to it' })),
  ids: t.Optional(t.String({ pattern: '^[\\w:.-]+(,[\\w:.-]+)*$', description: 'comma-separated message ids (engagement_events:42 or 42); all pending letters when absent' })),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 10_000, default: 1000 })),
});
export const ReplayReply = t.Object({
  replayed: t.Integer({ description: 'letters whose sinks all acknowledged (marked replayed)' }),
  applied: t.Integer(),
  duplicates: t.Integer({ description: 'already applied: replay is idempotent' }),
  failed: t.Array(t.Object({ id: t.Union([t.String(), t.Null()]), sink: t.Union([t.String(), t.Null()]), error: t.String() })),
  remaining: t.Integer({ description: 'letters still pending (of this sink when given)' }),
});
