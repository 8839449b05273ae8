import { describe, expect, test } from 'bun:test';
import { decodeEvent } from '../../src/features/engagement/processor.ts';
import type { SourceRecord } from '../../src/platform/stream/types.ts';

const record = (value: string | Buffer | null, headers: Record<string, string> = {}): SourceRecord => ({
  topic: 'events', partition: 0, offset: '7', key: null, value: value === null ? null : Buffer.from(value), headers, timestampMs: 0,
});
const good = { id: '42', content_id: 'aaaaaaaa-0000-4000-8000-000000000001', user_id: 'bbbbbbbb-0000-4000-8000-000000000001', event_type: 'play', event_ts: '2026-11-23T10:00:00.000Z', duration_ms: null, device: null, raw_payload: { a: 1 } };

describe('decoding engagement messages', () => {
  test('a valid message decodes, with its id from the message-id header', () => {
    const d = decodeEvent(record(JSON.stringify(good), { 'message-id': 'engagement_events:42', 'source-commit-ts': '2026-11-23T10:00:00.050Z' }));
    expect(d).toMatchObject({ ok: true, id: 'engagement_events:42', committedAt: '2026-11-23T10:00:00.050Z', event: { id: '42', raw_payload: { a: 1 } } });
  });

  test('without a header the id is derived from the row id, so it matches what CDC would send', () => {
    expect(decodeEvent(record(JSON.stringify({ ...good, id: 42 })))).toMatchObject({ ok: true, id: 'engagement_events:42' });
  });

  test.each([
    ['not JSON', record('{not json'), 'malformed_json'],
    ['empty', record(null), 'malformed_message'],
    ['an event type outside the set', record(JSON.stringify({ ...good, event_type: 'like' })), 'invalid_event'],
    ['a negative duration', record(JSON.stringify({ ...good, duration_ms: -1 })), 'invalid_event'],
    ['a missing user', record(JSON.stringify({ ...good, user_id: undefined })), 'invalid_event'],
    ['a bad timestamp', record(JSON.stringify({ ...good, event_ts: 'yesterday' })), 'invalid_event'],
  ])('%s is rejected with a reason, never thrown', (_, r, reason) => {
    const d = decodeEvent(r);
    expect(d.ok).toBe(false);
    if (!d.ok) {
      expect(d.reason).toBe(reason);
      expect(d.error.length).toBeGreaterThan(10);
    }
  });
});
