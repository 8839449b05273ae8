import { Elysia } from 'elysia';
import type { AppContext } from '../../platform/context.ts';
import { badRequest, notFound, unavailable } from '../../platform/errors.ts';
import { errors } from '../../platform/http/schemas.ts';
import { contentStats, recentEvents, topContent, type LiveReader } from './live.ts';
import { ContentParams, ContentStatsReply, RecentEventsReply, RecentQuery, TopContentQuery, TopContentReply, WindowQuery } from './model.ts';

/** Monitoring API over the live aggregates in Redis. */
export function engagementRoutes(ctx: AppContext) {
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
    .get('/top-content', ({ query }) => topContent(reader(), { limit: query.limit ?? 10, windowMinutes: windowOf(query.window_minutes), contentType: query.content_type }).catch(redisDown), {
      query: TopContentQuery,
      response: { 200: TopContentReply, ...errors(400, 503) },
      detail: { summary: 'Most engaged content in the live window', description: 'Ranked by events in the last `window_minutes` (1-minute buckets by event time).', tags: ['engagement'] },
    })
    .get(
      '/content/:id/stats',
      async ({ params, query }) => {
        const { known, stats } = await contentStats(reader(), { contentId: params.id, windowMinutes: windowOf(query.window_minutes) }).catch(redisDown);
        if (!known && !(await contentExists(params.id))) throw notFound('content', params.id);
        return stats;
      },
      {
        params: ContentParams,
        query: WindowQuery,
        response: { 200: ContentStatsReply, ...errors(400, 404, 503) },
        detail: { summary: 'Live engagement of one content', description: 'Counts by event type, unique users (HyperLogLog), engagement seconds and completion over the window. Zeros for known content without recent events; 404 for unknown content.', tags: ['engagement'] },
      },
    )
    .get('/content/:id/recent-events', ({ params, query }) => recentEvents(reader(), { contentId: params.id, count: query.count ?? 50 }).catch(redisDown), {
      params: ContentParams,
      query: RecentQuery,
      response: { 200: RecentEventsReply, ...errors(400, 503) },
      detail: { summary: 'Latest events of one content', description: 'Newest first, at most 50, kept for the live window.', tags: ['engagement'] },
    });
}
