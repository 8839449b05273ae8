import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Warehouse } from '../../src/features/engagement/warehouse/warehouse.ts';
import { engagementEnvelope } from '../helpers/engagement.ts';

const A = 'aaaaaaaa-0000-4000-8000-00000000000a';
const B = 'bbbbbbbb-0000-4000-8000-00000000000b';
const u = (n: number) => `cccccccc-0000-4000-8000-${String(n).padStart(12, '0')}`;
const podcast = { content_id: A, content_type: 'podcast' as const, slug: 'pod-a', title: 'Pod A', length_seconds: 300 };
const letter = { content_id: B, content_type: 'newsletter' as const, slug: 'letter-b', title: 'Letter B', length_seconds: null };

/** Known facts with hand-computed daily and hourly figures. */
export const VIEW_FACTS = [
  engagementEnvelope(101, { ...podcast, user_id: u(1), event_type: 'play', event_ts: '2026-01-05T10:15:00.000Z', duration_ms: null, engagement_seconds: null, engagement_pct: null }),
  engagementEnvelope(102, { ...podcast, user_id: u(1), event_type: 'pause', event_ts: '2026-01-05T10:20:00.000Z', duration_ms: 30_000, engagement_seconds: 30, engagement_pct: 10 }),
  engagementEnvelope(103, { ...podcast, user_id: u(2), event_type: 'finish', event_ts: '2026-01-05T11:05:00.000Z', duration_ms: 300_000, engagement_seconds: 300, engagement_pct: 100 }),
  engagementEnvelope(104, { ...letter, user_id: u(3), event_type: 'click', event_ts: '2026-01-06T09:00:00.000Z', duration_ms: 5000, engagement_seconds: 5, engagement_pct: null }),
];

const zero = { plays: 0, pauses: 0, finishes: 0, clicks: 0 };

/**
 * What every warehouse answers from its two views, checked on the same facts: the daily summary per content,
 * the hourly trends, filters, and the facts read back for rebuilding the live aggregates.
 */
export function warehouseViewsContract(kind: string, make: () => Promise<{ warehouse: Warehouse; cleanup(): Promise<void> }>, options: { skip?: string } = {}) {
  describe.skipIf(!!options.skip)(`Warehouse views: ${kind}`, () => {
    let w: Warehouse;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      ({ warehouse: w, cleanup } = await make());
      await w.prepare();
      const result = await w.write(VIEW_FACTS);
      expect(result.applied).toHaveLength(4);
      // A redelivery changes no figure below.
      expect((await w.write(VIEW_FACTS)).duplicates).toHaveLength(4);
    });
    afterAll(async () => {
      await w?.close();
      await cleanup?.();
    });

    test('the daily summary counts each event once per day and content, with users, seconds and completion', async () => {
      expect(await w.daily({ from: '2026-01-01', to: '2026-01-31', limit: 100 })).toEqual([
        { day: '2026-01-05', content_id: A, content_type: 'podcast', events: 3, ...zero, plays: 1, pauses: 1, finishes: 1, unique_users: 2, total_engagement_seconds: 330, avg_engagement_seconds: 165, avg_completion_pct: 55 },
        { day: '2026-01-06', content_id: B, content_type: 'newsletter', events: 1, ...zero, clicks: 1, unique_users: 1, total_engagement_seconds: 5, avg_engagement_seconds: 5, avg_completion_pct: null },
      ]);
    });

    test('the hourly trends split the same events by UTC hour', async () => {
      const rows = await w.hourly({ from: '2026-01-05', to: '2026-01-06', limit: 100 });
      expect(rows.map((r) => [r.hour, r.content_id, r.events, r.unique_users, r.total_engagement_seconds, r.avg_completion_pct])).toEqual([
        ['2026-01-05T10:00:00Z', A, 2, 1, 30, 10],
        ['2026-01-05T11:00:00Z', A, 1, 1, 300, 100],
        ['2026-01-06T09:00:00Z', B, 1, 1, 5, null],
      ]);
    });

    test('ranges, content and content type filter the rows', async () => {
      expect((await w.daily({ from: '2026-01-06', to: '2026-01-06', limit: 100 })).map((r) => r.content_id)).toEqual([B]);
      expect((await w.daily({ from: '2026-01-01', to: '2026-01-31', contentId: A, limit: 100 })).map((r) => r.day)).toEqual(['2026-01-05']);
      expect((await w.hourly({ from: '2026-01-01', to: '2026-01-31', contentType: 'newsletter', limit: 100 })).map((r) => r.hour)).toEqual(['2026-01-06T09:00:00Z']);
      expect(await w.daily({ from: '2025-01-01', to: '2025-01-31', limit: 100 })).toEqual([]);
      expect(await w.hourly({ from: '2026-01-01', to: '2026-01-31', limit: 2 })).toHaveLength(2);
    });

    test('facts come back as the events the live aggregates are rebuilt from', async () => {
      const pages: string[][] = [];
      for await (const page of w.factsSince(Date.parse('2026-01-05T11:00:00Z'), 1)) pages.push(page.map((e) => e.id));
      expect(pages.flat().sort()).toEqual(['103', '104']);
      const all: unknown[] = [];
      for await (const page of w.factsSince(0)) all.push(...page);
      expect(all.find((e) => (e as { id: string }).id === '102')).toMatchObject({
        ...podcast, user_id: u(1), event_type: 'pause', event_ts: '2026-01-05T10:20:00.000Z', duration_ms: 30_000, engagement_seconds: 30, engagement_pct: 10, engagement_pct_capped: false,
      });
      expect(await w.count()).toBe(4);
    });
  });
}
