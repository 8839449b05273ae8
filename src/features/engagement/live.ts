import type { Static } from 'elysia';
import type Redis from 'ioredis';
import type { Clock } from '../../platform/clock.ts';
import { EVENT_TYPES, type ContentType, type RecentEvent } from './model.ts';
import { liveKeys } from './keys.ts';
import { windowBuckets } from './window.ts';

/** Reads of the live aggregates: plain functions over Redis, so routes stay thin and tests need no HTTP. */
export type LiveReader = { redis: Redis; prefix: string; clock: Clock };

type Agg = { events: number; counts: Record<(typeof EVENT_TYPES)[number], number>; engMs: number; engN: number; pctSum: number; pctN: number };

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

function sumAggs(hashes: Record<string, string>[]): Agg {
  const a: Agg = { events: 0, counts: { play: 0, pause: 0, finish: 0, click: 0 }, engMs: 0, engN: 0, pctSum: 0, pctN: 0 };
  for (const h of hashes) {
    a.events += Number(h.events ?? 0);
    for (const t of EVENT_TYPES) a.counts[t] += Number(h[t] ?? 0);
    a.engMs += Number(h.eng_ms ?? 0);
    a.engN += Number(h.eng_n ?? 0);
    a.pctSum += Number(h.pct_sum ?? 0);
    a.pctN += Number(h.pct_n ?? 0);
  }
  return a;
}

/** Per content: the summed buckets of the window, the union of its unique-user sketches, and its metadata. */
async function readContents(r: LiveReader, ids: string[], buckets: number[]) {
  const k = liveKeys(r.prefix);
  const p = r.redis.pipeline();
  for (const id of ids) {
    for (const b of buckets) p.hgetall(k.agg(b, id));
    p.pfcount(...buckets.map((b) => k.users(b, id)));
    p.hgetall(k.content(id));
  }
  const replies = (await p.exec()) ?? [];
  const per = buckets.length + 2;
  return ids.map((id, i) => {
    const slice = replies.slice(i * per, (i + 1) * per).map(([err, v]) => {
      if (err) throw err;
      return v;
    });
    const perBucket = slice.slice(0, buckets.length) as Record<string, string>[];
    const agg = sumAggs(perBucket);
    const meta = slice[buckets.length + 1] as Record<string, string>;
    const perMinute = perBucket.map((h) => Number(h.events ?? 0));
    return { id, agg, perMinute, uniqueUsers: Number(slice[buckets.length]), meta: Object.keys(meta).length ? meta : undefined };
  });
}

export async function topContent(r: LiveReader, q: { limit: number; windowMinutes: number; contentType?: ContentType }) {
  const k = liveKeys(r.prefix);
  const buckets = windowBuckets(r.clock.now(), q.windowMinutes);
  const reply = (await r.redis.call('ZUNION', buckets.length, ...buckets.map((b) => k.top(b, q.contentType)), 'WITHSCORES')) as (string | [string, string])[];
  const ranked: { id: string; events: number }[] = [];
  // RESP3 answers [member, score] pairs, RESP2 a flat member, score, member… list.
  for (let i = 0; i < reply.length; ) {
    const item = reply[i]!;
    if (Array.isArray(item)) {
      ranked.push({ id: item[0], events: Number(item[1]) });
      i++;
    } else {
      ranked.push({ id: item, events: Number(reply[i + 1]) });
      i += 2;
    }
  }
  // Ties are broken by id so the order is stable between refreshes.
  ranked.sort((a, b) => b.events - a.events || (a.id < b.id ? -1 : 1));
  const top = ranked.slice(0, q.limit);
  const rows = await readContents(r, top.map((t) => t.id), buckets);
  return {
    window_minutes: q.windowMinutes,
    items: rows.map(({ id, agg, perMinute, uniqueUsers, meta }) => ({
      content_id: id,
      slug: meta?.slug ?? null,
      title: meta?.title ?? null,
      content_type: meta?.content_type ?? null,
      events: agg.events,
      unique_users: uniqueUsers,
      engagement_seconds: round(agg.engMs / 1000, 3),
      avg_completion_pct: agg.pctN ? round(agg.pctSum / agg.pctN) : null,
      events_per_minute: perMinute,
    })),
  };
}

export async function contentStats(r: LiveReader, q: { contentId: string; windowMinutes: number }) {
  const buckets = windowBuckets(r.clock.now(), q.windowMinutes);
  const [row] = await readContents(r, [q.contentId], buckets);
  const { agg, perMinute, uniqueUsers, meta } = row!;
  return {
    known: !!meta || agg.events > 0,
    stats: {
      content_id: q.contentId,
      window_minutes: q.windowMinutes,
      events: agg.events,
      counts: agg.counts,
      unique_users: uniqueUsers,
      total_engagement_seconds: round(agg.engMs / 1000, 3),
      avg_engagement_seconds: agg.engN ? round(agg.engMs / 1000 / agg.engN, 3) : null,
      avg_completion_pct: agg.pctN ? round(agg.pctSum / agg.pctN) : null,
      events_per_minute: perMinute,
    },
  };
}

/** Events applied to the live aggregates since the key space was created: the live feed sends a new ranking when it moves. */
export async function appliedTotal(r: LiveReader): Promise<number> {
  return Number((await r.redis.get(liveKeys(r.prefix).applied)) ?? 0);
}

/** Newest first by event time (the list is in processing order, which can differ slightly across partitions). */
export async function recentEvents(r: LiveReader, q: { contentId: string; count: number }) {
  const raw = await r.redis.lrange(liveKeys(r.prefix).recent(q.contentId), 0, q.count - 1);
  const items = raw.map((s) => JSON.parse(s) as Static<typeof RecentEvent>);
  items.sort((a, b) => Date.parse(b.event_ts) - Date.parse(a.event_ts) || Number(b.id) - Number(a.id));
  return { items };
}
