import { describe, expect, test } from 'bun:test';
import { buildWorld, eventDrafts, spreadEvents } from '../../src/features/engagement/generator.ts';

const take = <T>(it: Iterator<T>, n: number) => Array.from({ length: n }, () => it.next().value as T);

describe('data generator', () => {
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
