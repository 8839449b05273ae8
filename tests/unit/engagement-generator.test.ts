import { describe, expect, test } from 'bun:test';
import { ManualClock } from '../../src/platform/clock.ts';
import { buildWorld, eventDrafts, progressReporter, spreadEvents } from '../../src/features/engagement/generator.ts';

const take = <T>(it: Iterator<T>, n: number) => Array.from({ length: n }, () => it.next().value as T);

describe('data generator', () => {
  test('progress is printed at most once per interval of the clock, with the share done and the rate', () => {
    const clock = new ManualClock(5_000);
    const lines: string[] = [];
    const progress = progressReporter({ label: 'batch', clock, everyMs: 1000, write: (l) => lines.push(l), total: 40_000 });
    progress.tick(1000);
    clock.advance(999);
    progress.tick(7000);
    expect(lines).toEqual([]);
    clock.advance(1);
    progress.tick(8000);
    progress.tick(9000);
    clock.advance(1000);
    progress.tick(20_000);
    expect(lines).toEqual(['batch: 8000/40000 events (20%), 8000 ev/s', 'batch: 20000/40000 events (50%), 10000 ev/s']);
  });

  test('without a total, progress gives the count and the rate', () => {
    const clock = new ManualClock();
    const lines: string[] = [];
    const progress = progressReporter({ label: 'continuous', clock, everyMs: 5000, write: (l) => lines.push(l) });
    clock.advance(5000);
    progress.tick(2500);
    expect(lines).toEqual(['continuous: 2500 events, 500 ev/s']);
  });

  test('the same seed gives the same catalogue, users and events; another seed does not', () => {
    const a = buildWorld({ seed: 7, now: 0 });
    const b = buildWorld({ seed: 7, now: 0 });
    expect(a.catalogue).toEqual(b.catalogue);
    expect(a.users).toEqual(b.users);
    expect(take(eventDrafts(a), 300)).toEqual(take(eventDrafts(b), 300));
    expect(buildWorld({ seed: 8, now: 0 }).catalogue[0]!.id).not.toBe(a.catalogue[0]!.id);
  });

  test('the catalogue has the three content types, and newsletters have no length', () => {
    const { catalogue } = buildWorld({ seed: 1, contents: 30 });
    expect(new Set(catalogue.map((c) => c.content_type))).toEqual(new Set(['podcast', 'newsletter', 'video']));
    for (const c of catalogue) {
      if (c.content_type === 'newsletter') expect(c.length_seconds).toBeNull();
      else expect(c.length_seconds).toBeGreaterThan(0);
    }
    expect(new Set(catalogue.map((c) => c.slug)).size).toBe(30);
  });

  test('sessions are plausible: plays carry no duration, pauses and finishes do, newsletters are clicked', () => {
    const world = buildWorld({ seed: 3 });
    const byId = new Map(world.catalogue.map((c) => [c.id, c]));
    const events = take(eventDrafts(world), 5000);
    for (const e of events) {
      const c = byId.get(e.content_id)!;
      if (c.content_type === 'newsletter') expect(e.event_type).toBe('click');
      else expect(['play', 'pause', 'finish']).toContain(e.event_type);
      if (e.event_type === 'play') expect(e.duration_ms).toBeNull();
      if (e.event_type === 'pause' || e.event_type === 'finish') expect(e.duration_ms).toBeGreaterThan(0);
    }
    expect(events.some((e) => e.event_type === 'finish')).toBe(true);
  });

  test('historical events fall inside the requested period', () => {
    const world = buildWorld({ seed: 5 });
    const from = Date.parse('2026-01-01T00:00:00Z');
    const to = from + 86_400_000;
    const events = [...spreadEvents(world, 2000, from, to)];
    expect(events).toHaveLength(2000);
    for (const e of events) {
      expect(e.event_ts.getTime()).toBeGreaterThanOrEqual(from);
      expect(e.event_ts.getTime()).toBeLessThan(to);
    }
  });

  test('--event-types replaces the session model with a uniform mix of the given types', () => {
    const types = new Set(take(eventDrafts(buildWorld({ seed: 2 }), { eventTypes: ['click', 'like'] }), 200).map((e) => e.event_type));
    expect(types).toEqual(new Set(['click', 'like']));
  });
});
