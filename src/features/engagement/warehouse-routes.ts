import { Elysia } from 'elysia';
import type { AppContext } from '../../platform/context.ts';
import { AppError, badRequest, unavailable } from '../../platform/errors.ts';
import { errors } from '../../platform/http/schemas.ts';
import type { EngagementAccess } from './access.ts';
import { DailyReply, HourlyReply, WarehouseRangeQuery, type ContentType } from './model.ts';
import type { WarehouseQuery } from './warehouse/facts.ts';
import { dropEmptyQuery } from '../../platform/http/query.ts';

const DAY_MS = 86_400_000;
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * The period asked for, checked: whole UTC days, `from` not after `to`, at most `maxDays` long. Defaults end
 * today and go back `defaultDays`.
 */
export function warehouseRange(
  q: { from?: string; to?: string; content_id?: string; content_type?: ContentType; limit?: number },
  o: { nowMs: number; defaultDays: number; maxDays: number },
): WarehouseQuery {
  const to = q.to ?? isoDay(o.nowMs);
  const from = q.from ?? isoDay(Date.parse(to) - (o.defaultDays - 1) * DAY_MS);
  if (from > to) throw badRequest('invalid_range', `from=${from} is after to=${to}. Swap them, or leave one out.`);
  const days = (Date.parse(to) - Date.parse(from)) / DAY_MS + 1;
  if (days > o.maxDays) throw badRequest('range_too_large', `The period from=${from} to=${to} spans ${days} days; ask for at most ${o.maxDays} days at a time.`);
  return { from, to, contentId: q.content_id, contentType: q.content_type, limit: q.limit ?? 1000 };
}

/** Reads of the warehouse's two views. */
export function warehouseRoutes(ctx: AppContext, access: EngagementAccess) {
  const down = (e: unknown): never => {
    if (e instanceof AppError) throw e;
    throw unavailable('warehouse_unavailable', `The warehouse did not answer (${(e as Error).message}); try again shortly.`, e);
  };
  return new Elysia({ name: 'engagement.warehouse' })
    .onTransform(dropEmptyQuery)
    .get(
      '/warehouse/daily',
      async ({ query }) => {
        const range = warehouseRange(query, { nowMs: ctx.clock.now(), defaultDays: 7, maxDays: 366 });
        const items = await (await access.warehouse()).daily(range).catch(down);
        return { from: range.from, to: range.to, items };
      },
      {
        beforeHandle: ctx.limits.search,
        query: WarehouseRangeQuery,
        response: { 200: DailyReply, ...errors(400, 429, 503) },
        detail: {
          summary: 'Daily engagement per content (warehouse)',
          description: 'Rows of the `daily_engagement_summary` view for UTC days `from`..`to` (both included; default: the last 7 days, at most 366), ordered by day then events. Every event counts once, however often it was delivered.',
          tags: ['engagement'],
        },
      },
    )
    .get(
      '/warehouse/hourly',
      async ({ query }) => {
        const range = warehouseRange(query, { nowMs: ctx.clock.now(), defaultDays: 1, maxDays: 31 });
        const items = await (await access.warehouse()).hourly(range).catch(down);
        return { from: range.from, to: range.to, items };
      },
      {
        beforeHandle: ctx.limits.search,
        query: WarehouseRangeQuery,
        response: { 200: HourlyReply, ...errors(400, 429, 503) },
        detail: {
          summary: 'Hourly engagement per content (warehouse)',
          description: 'Rows of the `hourly_engagement_trends` view for the UTC hours of days `from`..`to` (default: today, at most 31 days), ordered by hour then events; filter with `content_type` for one type’s trend.',
          tags: ['engagement'],
        },
      },
    );
}
