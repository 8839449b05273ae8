import { Elysia } from 'elysia';
import type { AppContext } from '../../platform/context.ts';
import { notFound } from '../../platform/errors.ts';
import { protectedDetail, mutationGuard } from '../../platform/http/auth.ts';
import { errors } from '../../platform/http/schemas.ts';
import { IdParams, Post, PostList, PostsQuery, Preview, PreviewQuery, Run, RunDetail, RunDetailQuery, RunList, RunQuery, RunsQuery, Stats } from './model.ts';
import { getPost, listPosts, readStats } from './posts.ts';
import type { EtlRunner } from './runner.ts';
import { dropEmptyQuery } from '../../platform/http/query.ts';

export function etlRoutes(ctx: AppContext, runner: EtlRunner) {
  const db = ctx.stores.sqlite.db;
  const search = ctx.limits.search;
  return new Elysia({ name: 'feature.etl' })
    .onTransform(dropEmptyQuery)
    .post(
      '/etl/run',
      async ({ query, set }) => {
        const { run, done } = runner.start();
        if (query.wait) return done;
        set.status = 202;
        return run;
      },
      {
        transform: mutationGuard(ctx),
        query: RunQuery,
        response: { 200: Run, 202: Run, ...errors(400, 401, 403, 409, 429) },
        detail: {
          summary: 'Run the ETL',
          description:
            'Extracts posts from ETL_SOURCE_URL, transforms them and loads them into SQLite. Answers with the run record: when the run has finished (200; its `status` says how it went), or at once with `wait=false` (202; follow it with GET /etl/runs/:id). 409 `etl_running` with `run_id` while another run is in progress.',
          tags: ['etl'],
          ...protectedDetail,
        },
      },
    )
    .get('/etl/preview', ({ query }) => runner.preview(query.n), {
      beforeHandle: search,
      query: PreviewQuery,
      response: { 200: Preview, ...errors(400, 429, 502, 503) },
      detail: { summary: 'Preview the ETL', description: 'Extracts and transforms the first `n` valid records without loading them; `rejected` lists the invalid records met on the way. 502/503 when the source fails.', tags: ['etl'] },
    })
    .get('/etl/runs', ({ query }) => runner.runs.list(query.limit, query.offset), {
      beforeHandle: search,
      query: RunsQuery,
      response: { 200: RunList, ...errors(400, 429) },
      detail: { summary: 'List ETL runs', description: 'Newest first.', tags: ['etl'] },
    })
    .get(
      '/etl/runs/:id',
      ({ params, query }) => {
        const run = runner.runs.detail(params.id, query.rejected_limit);
        if (!run) throw notFound('ETL run', params.id);
        return run;
      },
      {
        beforeHandle: search,
        params: IdParams,
        query: RunDetailQuery,
        response: { 200: RunDetail, ...errors(400, 404, 429) },
        detail: { summary: 'One ETL run', description: 'The run record with its source URL and the records it rejected (why, and the raw JSON).', tags: ['etl'] },
      },
    )
    .get('/posts', ({ query }) => listPosts(db, { limit: query.limit, offset: query.offset, userId: query.user_id === '' ? undefined : query.user_id, q: query.q }), {
      beforeHandle: search,
      query: PostsQuery,
      response: { 200: PostList, ...errors(400, 429) },
      detail: { summary: 'List posts', description: 'Posts loaded by the ETL, by id, with optional user and text filters.', tags: ['etl'] },
    })
    .get(
      '/posts/:id',
      ({ params }) => {
        const post = getPost(db, params.id);
        if (!post) throw notFound('Post', params.id);
        return post;
      },
      {
        beforeHandle: search,
        params: IdParams,
        response: { 200: Post, ...errors(400, 404, 429) },
        detail: { summary: 'One post', tags: ['etl'] },
      },
    )
    .get('/stats', () => readStats(db, runner.runs), {
      beforeHandle: search,
      response: { 200: Stats, ...errors(429) },
      detail: { summary: 'ETL statistics', description: 'Post count, distinct users, average title and body length, the last run and the number of runs by status.', tags: ['etl'] },
    });
}
