import { describe, expect, test } from 'bun:test';
import type { Content, EngagementEventMessage } from '../../src/features/engagement/model.ts';
import { enrich } from '../../src/features/engagement/transform.ts';

const content: Content = { id: 'aaaaaaaa-0000-4000-8000-000000000001', slug: 'pod', title: 'Pod', content_type: 'podcast', length_seconds: 200, publish_ts: null };
const event = (duration_ms: number | null): EngagementEventMessage & { content_id: string } => ({
  id: '1',
  content_id: content.id,
  user_id: 'bbbbbbbb-0000-4000-8000-000000000001',
  event_type: 'pause',
  event_ts: '2026-11-23T10:00:00.000Z',
  duration_ms,
  device: 'ios',
  raw_payload: null,
});

describe('enrich and transform', () => {
  test('engagement seconds are duration_ms / 1000 and completion is seconds / length × 100', () => {
    const e = enrich(event(50_000), content, '2026-11-23T10:00:00.100Z');
    expect(e).toMatchObject({ slug: 'pod', title: 'Pod', content_type: 'podcast', length_seconds: 200, engagement_seconds: 50, engagement_pct: 25, engagement_pct_capped: false, committed_at: '2026-11-23T10:00:00.100Z' });
  });

  test('a null duration gives null seconds and null completion, not zero', () => {
    expect(enrich(event(null), content)).toMatchObject({ engagement_seconds: null, engagement_pct: null, engagement_pct_capped: false });
  });

  test('a content without length gives null completion but keeps the seconds', () => {
    expect(enrich(event(3000), { ...content, length_seconds: null })).toMatchObject({ engagement_seconds: 3, engagement_pct: null, engagement_pct_capped: false });
  });

  test('more engagement than the content lasts is capped at 100 % and flagged, never silently clamped', () => {
    expect(enrich(event(500_000), content)).toMatchObject({ engagement_seconds: 500, engagement_pct: 100, engagement_pct_capped: true });
    expect(enrich(event(200_000), content)).toMatchObject({ engagement_pct: 100, engagement_pct_capped: false });
  });

  test('a zero duration is a real 0 %', () => {
    expect(enrich(event(0), content)).toMatchObject({ engagement_seconds: 0, engagement_pct: 0 });
  });
});
