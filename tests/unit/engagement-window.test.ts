import { describe, expect, test } from 'bun:test';
import { ManualClock } from '../../src/platform/clock.ts';
import { bucketExpiresAtMs, bucketOf, isLate, windowBuckets } from '../../src/features/engagement/window.ts';

const at = (iso: string) => Date.parse(iso);

describe('live window math', () => {
  test('an event falls in the 1-minute bucket of its event time', () => {
    expect(bucketOf(at('2026-11-23T10:00:00.000Z'))).toBe(bucketOf(at('2026-11-23T10:00:59.999Z')));
    expect(bucketOf(at('2026-11-23T10:01:00.000Z'))).toBe(bucketOf(at('2026-11-23T10:00:00.000Z')) + 1);
  });

  test('a window of N minutes is the N buckets ending with the current minute', () => {
    const clock = new ManualClock(at('2026-11-23T10:09:30Z'));
    const buckets = windowBuckets(clock.now(), 10);
    expect(buckets).toHaveLength(10);
    expect(buckets[0]).toBe(bucketOf(at('2026-11-23T10:00:00Z')));
    expect(buckets.at(-1)).toBe(bucketOf(at('2026-11-23T10:09:00Z')));
    clock.advance(30_000);
    expect(windowBuckets(clock.now(), 10)[0]).toBe(bucketOf(at('2026-11-23T10:01:00Z')));
  });

  test('a bucket leaves the window after N minutes, then its events are late and its keys may expire', () => {
    const clock = new ManualClock(at('2026-11-23T10:00:10Z'));
    const b = bucketOf(clock.now());
    clock.set(at('2026-11-23T10:09:59Z'));
    expect(isLate(b, clock.now(), 10)).toBe(false);
    expect(windowBuckets(clock.now(), 10)).toContain(b);
    clock.set(at('2026-11-23T10:10:00Z'));
    expect(isLate(b, clock.now(), 10)).toBe(true);
    expect(windowBuckets(clock.now(), 10)).not.toContain(b);
    // Keys live one more minute than the last read that can include them.
    expect(bucketExpiresAtMs(b, 10)).toBe(at('2026-11-23T10:11:00Z'));
  });

  test('an event from the future is not late', () => {
    const now = at('2026-11-23T10:00:00Z');
    expect(isLate(bucketOf(now + 120_000), now, 10)).toBe(false);
  });
});
