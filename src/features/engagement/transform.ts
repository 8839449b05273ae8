import type { Content, EngagementEvent, EngagementEventMessage } from './model.ts';

/**
 * Joins an event with its content and derives the measures:
 * engagement_seconds = duration_ms / 1000; engagement_pct = engagement_seconds / length_seconds × 100,
 * null when either is missing. Above 100 the data says more was watched than exists (seeking, replays, a wrong
 * length): the value is capped at 100 and the event flagged, so the cap is visible rather than silent.
 */
export function enrich(event: EngagementEventMessage & { content_id: string }, content: Content, committedAt: string | null = null): EngagementEvent {
  const engagement_seconds = event.duration_ms === null ? null : event.duration_ms / 1000;
  const pct = engagement_seconds === null || content.length_seconds === null ? null : (engagement_seconds / content.length_seconds) * 100;
  const capped = pct !== null && pct > 100;
  return {
    ...event,
    slug: content.slug,
    title: content.title,
    content_type: content.content_type,
    length_seconds: content.length_seconds,
    engagement_seconds,
    engagement_pct: capped ? 100 : pct,
    engagement_pct_capped: capped,
    committed_at: committedAt,
  };
}
