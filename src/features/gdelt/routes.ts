import { Elysia } from 'elysia';
import type { AppContext } from '../../platform/context.ts';
import { badRequest, notFound } from '../../platform/errors.ts';
import { protectedDetail, mutationGuard } from '../../platform/http/auth.ts';
import { errors } from '../../platform/http/schemas.ts';
import type { GdeltService } from './index.ts';
import { batchIso, parseBoundary } from './manifest.ts';
import {
  BackfillQuery, BatchesQuery, BatchList, Enqueued, EventDetailSchema, EventParams, JobList, JobSchema, JobsQuery,
  SearchQuery, SearchResult, StatList, StatsQuery, TimelineQuery, TriggerQuery,
} from './model.ts';
import { search } from './search.ts';
import { getEvent, stats, timeline } from './stats.ts';
import { t } from 'elysia';
import { dropEmptyQuery } from '../../platform/http/query.ts';

const tags = ['gdelt'];
const MAX_BACKFILL_DAYS = 31;

export const gdeltRoutes = (ctx: AppContext, g: GdeltService) =>
  new Elysia({ name: 'gdelt.routes' })
    .onTransform(dropEmptyQuery)
    .post(
      '/api/v1/ingest/trigger',
      ({ query, set }) => {
        const job = g.enqueue('latest', { n_batches: query.n_batches ?? 1 });
        set.status = 202;
        return { job_id: job.job_id, state: 'queued' as const };
      },
      {
        transform: mutationGuard(ctx),
        query: TriggerQuery,
        response: { 202: Enqueued, ...errors(400, 401, 403) },
        detail: { summary: 'Queue ingestion of the latest batches', description: 'Reads lastupdate.txt (and masterfilelist.txt for more than one batch) when the job runs. Poll the job for progress.', tags, ...protectedDetail },
      },
    )
    .post(
      '/api/v1/ingest/backfill',
      ({ query, set }) => {
        const from = parseBoundary(query.from, 'from', false);
        const to = parseBoundary(query.to, 'to', true);
        if (from > to) throw badRequest('invalid_time_range', `from=${query.from} is after to=${query.to}. Swap them.`);
        if (to - from > MAX_BACKFILL_DAYS * 86_400_000)
          throw badRequest('range_too_large', `A backfill covers at most ${MAX_BACKFILL_DAYS} days (${MAX_BACKFILL_DAYS * 96} batches); split the range into several jobs.`);
        const job = g.enqueue('range', { from: query.from, to: query.to });
        set.status = 202;
        return { job_id: job.job_id, state: 'queued' as const };
      },
      {
        transform: mutationGuard(ctx),
        query: BackfillQuery,
        response: { 202: Enqueued, ...errors(400, 401, 403) },
        detail: { summary: 'Queue ingestion of a range of batches', description: 'Every batch in masterfilelist.txt between from and to.', tags, ...protectedDetail },
      },
    )
    .get('/api/v1/ingest/jobs', ({ query }) => g.queue.list({ limit: query.limit ?? 20, offset: query.offset ?? 0, state: query.state }), {
      beforeHandle: ctx.limits.search,
      query: JobsQuery,
      response: { 200: JobList, ...errors(400, 429) },
      detail: { summary: 'Ingestion jobs, newest first', tags },
    })
    .get(
      '/api/v1/ingest/jobs/:id',
      ({ params }) => {
        const job = g.queue.get(params.id);
        if (!job) throw notFound('Job', params.id);
        return job;
      },
      {
        beforeHandle: ctx.limits.search,
        params: t.Object({ id: t.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) }),
        response: { 200: JobSchema, ...errors(400, 404, 429) },
        detail: { summary: 'One ingestion job: state, progress, rows, errors', tags },
      },
    )
    .get(
      '/api/v1/ingest/batches',
      ({ query }) => {
        const { items, total, rows } = g.catalog.list({ table: query.table, limit: query.limit ?? 100, offset: query.offset ?? 0 });
        const indexed = g.index.indexedAt(items.filter((i) => i.table === 'events').map((i) => i.batch));
        return { items: items.map(({ batch, ...r }) => ({ ...r, batch_time: batchIso(batch), indexed_at: (r.table === 'events' && indexed.get(batch)) || null })), total, rows };
      },
      {
        beforeHandle: ctx.limits.search,
        query: BatchesQuery,
        response: { 200: BatchList, ...errors(400, 429) },
        detail: { summary: 'Batches in the lake', description: 'Rows, zip size and md5 (as the manifest lists them), quarantined rows, when ingested and when indexed for search; `rows` sums the rows of every batch matching the filter.', tags },
      },
    )
    .get(
      '/api/v1/events/search',
      ({ query }) =>
        search(g.index, g.lookups, { ...query, limit: query.limit ?? 50, offset: query.offset ?? 0, sort: query.sort ?? 'date', country: query.country?.toUpperCase() }),
      {
        beforeHandle: ctx.limits.search,
        query: SearchQuery,
        response: { 200: SearchResult, ...errors(400, 429) },
        detail: { summary: 'Search events', description: 'Full-text search over actor names, places, source URL words and CAMEO descriptions, from the index built at ingest.', tags },
      },
    )
    .get('/api/v1/events/stats', async ({ query }) => stats(await g.query(), g.index, g.lookups, { ...query, group_by: query.group_by ?? 'day', country: query.country?.toUpperCase() }), {
      beforeHandle: ctx.limits.search,
      query: StatsQuery,
      response: { 200: StatList, ...errors(400, 429, 503) },
      detail: {
        summary: 'Counts, average tone and Goldstein by day, root code, country or quad class',
        description: 'Every event in the window, or, with query/country/event_code/actor, only the events a search with those filters matches.',
        tags,
      },
    })
    .get('/api/v1/events/timeline', async ({ query }) => timeline(await g.query(), g.index, g.lookups, { ...query, interval: query.interval ?? 'hour', country: query.country?.toUpperCase() }), {
      beforeHandle: ctx.limits.search,
      query: TimelineQuery,
      response: { 200: StatList, ...errors(400, 429, 503) },
      detail: { summary: 'Events over time (optionally only those a search with the same filters matches)', tags },
    })
    .get('/api/v1/events/:id', async ({ params }) => getEvent(await g.query(), g.index, g.lookups, params.id), {
      beforeHandle: ctx.limits.search,
      params: EventParams,
      response: { 200: EventDetailSchema, ...errors(400, 404, 429, 503) },
      detail: { summary: 'One event with every column and the names of its codes', tags },
    });
