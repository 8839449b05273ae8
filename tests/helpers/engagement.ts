import type { EngagementEvent } from '../../src/features/engagement/model.ts';
import type { Envelope } from '../../src/platform/stream/types.ts';

export const SAMPLE_CONTENT = ['00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000003'];

/** An enriched engagement event as the processor hands it to sinks; `n` makes the id (and user) unique. */
export function engagementEnvelope(n: number, overrides: Partial<EngagementEvent> = {}): Envelope<EngagementEvent> {
  const value: EngagementEvent = {
    id: String(n),
    content_id: SAMPLE_CONTENT[n % SAMPLE_CONTENT.length]!,
    user_id: `10000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    event_type: 'play',
    event_ts: new Date().toISOString(),
    duration_ms: 1500,
    device: 'ios',
    raw_payload: null,
    slug: `content-${n % SAMPLE_CONTENT.length}`,
    title: 'A title',
    content_type: 'podcast',
    length_seconds: 300,
    engagement_seconds: 1.5,
    engagement_pct: 0.5,
    engagement_pct_capped: false,
    committed_at: null,
    ...overrides,
  };
  return { id: `engagement_events:${value.id}`, value, record: { topic: 't', partition: 0, offset: String(n), key: null, value: null, headers: {}, timestampMs: 0 } };
}
