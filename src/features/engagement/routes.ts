import { Elysia, t } from 'elysia';
import type { AppContext } from '../../platform/context.ts';
import { badRequest, notFound, unavailable } from '../../platform/errors.ts';
import { errors } from '../../platform/http/schemas.ts';
import { appliedTotal, contentStats, recentEvents, topContent, type LiveReader } from './live.ts';
import { bucketOf } from './window.ts';
import { ContentParams, ContentStatsReply, RecentEventsReply, RecentQuery, TopContentQuery, TopContentReply, WindowQuery } from './model.ts';
import { dropEmptyQuery } from '../../platform/http/query.ts';

/** How often the live feed looks at the applied-events counter (one Redis GET); a new ranking goes out when it moves. */
const LIVE_POLL_MS = 1000;
/** A comment line while nothing changes, under proxies' idle timeouts. */
const HEARTBEAT_MS = 15_000;

/** Monitoring API over the live aggregates in Redis. */
export function engagementRoutes(ctx: AppContext) {
  // Open live feeds never end by themselves; the server's graceful stop waits for open responses, so they close
  // as soon as shutdown begins.
  const feeds = new Set<() => void>();
  ctx.stopping.addEventListener('abort', () => [...feeds].forEach((close) => close()), { once: true });
  const configured = ctx.config.REDIS_KEY_PREFIX;
  const maxWindow = ctx.config.REDIS_AGGREGATION_WINDOW_MINUTES;
  const reader = (): LiveReader => {
    const r = ctx.stores.redis;
    if (!r) throw unavailable('engagement_disabled', 'Live engagement needs Redis: set REDIS_URL (and DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS for the pipeline that fills it).');
    return { redis: r.redis, prefix: configured, clock: ctx.clock };
  };
  const windowOf = (w: number | undefined) => {
    if (w === undefined) return maxWindow;
    if (w > maxWindow)
      throw badRequest('window_too_large', `window_minutes=${w} is longer than the live window Redis keeps (REDIS_AGGREGATION_WINDOW_MINUTES=${maxWindow}). Ask for ${maxWindow} or less, or use the warehouse for longer periods.`);
    return w;
  };
  const redisDown = (e: unknown): never => {
    if ((e as { status?: number }).status) throw e;
    throw unavailable('redis_unavailable', `Redis did not answer (${(e as Error).message}); try again shortly.`, e);
  };
  const contentExists = async (id: string) => {
    const pg = ctx.stores.postgres;
    if (!pg) return false;
    try {
      return (await pg.sql`SELECT 1 FROM content WHERE id = ${id}`).length > 0;
    } catch {
      return false;
    }
  };

  return new Elysia({ name: 'engagement.routes' })
    .onTransform(dropEmptyQuery)
    .get('/top-content', ({ query }) => topContent(reader(), { limit: query.limit ?? 10, windowMinutes: windowOf(query.window_minutes), contentType: query.content_type }).catch(redisDown), {
      beforeHandle: ctx.limits.search,
      query: TopContentQuery,
      response: { 200: TopContentReply, ...errors(400, 429, 503) },
      detail: { summary: 'Most engaged content in the live window', description: 'Ranked by events in the last `window_minutes` (1-minute buckets by event time).', tags: ['engagement'] },
    })
    .get(
      '/top-content/live',
      async ({ query, request }) => {
        const r = reader();
        const q = { limit: query.limit ?? 10, windowMinutes: windowOf(query.window_minutes), contentType: query.content_type };
        // The first ranking is read before the stream opens, so Redis being down is a 503, not a broken stream.
        const first = await topContent(r, q).catch(redisDown);
        let applied = await appliedTotal(r).catch(redisDown);
        const encoder = new TextEncoder();
        const stop = new AbortController();
        const stream = new ReadableStream<Uint8Array>({
          async start(controller) {
            const close = () => {
              if (stop.signal.aborted) return;
              stop.abort();
              feeds.delete(close);
              try {
                controller.close();
              } catch {}
            };
            feeds.add(close);
            request.signal.addEventListener('abort', close, { once: true });
            const send = (text: string) => {
              try {
                controller.enqueue(encoder.encode(text));
              } catch {
                close();
              }
            };
            const snapshot = (top: Awaited<ReturnType<typeof topContent>>) =>
              send(`event: top\ndata: ${JSON.stringify({ ...top, applied, at: new Date(ctx.clock.now()).toISOString() })}\n\n`);
            send('retry: 3000\n');
            snapshot(first);
            let minute = bucketOf(ctx.clock.now());
            let quietSince = ctx.clock.now();
            while (!stop.signal.aborted) {
              await ctx.clock.sleep(LIVE_POLL_MS, stop.signal).catch(() => {});
              if (stop.signal.aborted) break;
              try {
                const now = ctx.clock.now();
                const total = await appliedTotal(r);
                // New events, or the window slid by a minute: the ranking may have changed.
                if (total !== applied || bucketOf(now) !== minute) {
                  applied = total;
                  minute = bucketOf(now);
                  quietSince = now;
                  snapshot(await topContent(r, q));
                } else if (now - quietSince >= HEARTBEAT_MS) {
                  quietSince = now;
                  send(': ping\n\n');
                }
              } catch (e) {
                send(`event: problem\ndata: ${JSON.stringify({ code: 'redis_unavailable', message: `Redis did not answer (${(e as Error).message}); retrying.` })}\n\n`);
              }
            }
          },
          cancel: () => stop.abort(),
        });
        return new Response(stream, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' } });
      },
      {
        beforeHandle: ctx.limits.search,
        query: TopContentQuery,
        response: { 200: t.String({ description: 'text/event-stream: `event: top` with the same body as /top-content plus `applied` (events applied so far) and `at`, sent at once and again whenever events are applied or the window slides; `event: problem` when Redis does not answer (the feed keeps trying)' }), ...errors(400, 429, 503) },
        detail: { summary: 'Live top content (Server-Sent Events)', description: 'The /top-content ranking, pushed when it may have changed: checked every second.', tags: ['engagement'] },
      },
    )
    .get(
      '/content/:id/stats',
      async ({ params, query }) => {
        const { known, stats } = await contentStats(reader(), { contentId: params.id, windowMinutes: windowOf(query.window_minutes) }).catch(redisDown);
        if (!known && !(await contentExists(params.id))) throw notFound('content', params.id);
        return stats;
      },
      {
        beforeHandle: ctx.limits.search,
        params: ContentParams,
        query: WindowQuery,
        response: { 200: ContentStatsReply, ...errors(400, 404, 429, 503) },
        detail: { summary: 'Live engagement of one content', description: 'Counts by event type, unique users (HyperLogLog), engagement seconds and completion over the window. Zeros for known content without recent events; 404 for unknown content.', tags: ['engagement'] },
      },
    )
    .get('/content/:id/recent-events', ({ params, query }) => recentEvents(reader(), { contentId: params.id, count: query.count ?? 50 }).catch(redisDown), {
      beforeHandle: ctx.limits.search,
      params: ContentParams,
      query: RecentQuery,
      response: { 200: RecentEventsReply, ...errors(400, 429, 503) },
      detail: { summary: 'Latest events of one content', description: 'Newest first, at most 50, kept for the live window.', tags: ['engagement'] },
    });
}
