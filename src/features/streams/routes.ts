import { Elysia, t } from 'elysia';
import { z } from 'zod';
import type { AppContext } from '../../platform/context.ts';
import { badRequest } from '../../platform/errors.ts';
import { protectedDetail, mutationGuard } from '../../platform/http/auth.ts';
import { errors } from '../../platform/http/schemas.ts';
import type { StreamJobs } from './jobs.ts';
import { DlqEntrySchema, JobDetailSchema, JobNameParams, JobStatusSchema, ResultsQuerySchema, ResultsSchema, toDlqDto } from './model.ts';
import { JobSpecSchema } from './spec.ts';
import { dropEmptyQuery } from '../../platform/http/query.ts';

/** How often an idle live feed sends a comment line: under Bun.serve's 10 s idle timeout, and proxies' too. */
const HEARTBEAT_MS = 5_000;

const timeParam = (name: string, value: string | undefined) => {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw badRequest('invalid_request', `Invalid query parameter "${name}": expected an ISO-8601 time such as 2026-11-23T12:00:00Z (got ${JSON.stringify(value)}).`);
  return ms;
};

/**
 * Routes of the streams feature. Each one resolves the job manager first: while streams are disabled (a service
 * variable is missing) or starting, that throws the 503 that says why.
 */
export function streamsRoutes(ctx: AppContext, jobs: () => Promise<StreamJobs>) {
  // Open live feeds. They never end by themselves, and the server's graceful stop waits for open responses, so
  // they are closed as soon as shutdown begins.
  const sse = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const closeAll = () => {
    for (const c of [...sse]) {
      sse.delete(c);
      try {
        c.close();
      } catch {}
    }
  };
  const track = (c: ReadableStreamDefaultController<Uint8Array>) => void sse.add(c);
  const untrack = (c: ReadableStreamDefaultController<Uint8Array>) => void sse.delete(c);
  ctx.stopping.addEventListener('abort', closeAll, { once: true });
  const specDoc = z.toJSONSchema(JobSpecSchema, { io: 'input', unrepresentable: 'any' });

  return new Elysia({ name: 'feature.streams', prefix: '/api/v1/streams' })
    .onTransform(dropEmptyQuery)
    .get('/jobs', async () => ({ jobs: await (await jobs()).list() }), {
      response: { 200: t.Object({ jobs: t.Array(JobStatusSchema) }), ...errors(503) },
      detail: { summary: 'List stream jobs', description: 'State, lag per partition, watermark, open windows and counters of every job.', tags: ['streams'] },
    })
    .get('/jobs/:name', async ({ params }) => (await jobs()).get(params.name), {
      params: JobNameParams,
      response: { 200: JobDetailSchema, ...errors(400, 404, 503) },
      detail: { summary: 'One stream job, with its spec', tags: ['streams'] },
    })
    .post(
      '/jobs',
      async ({ body, set }) => {
        const job = await (await jobs()).create(body);
        set.status = 201;
        return job;
      },
      {
        transform: mutationGuard(ctx),
        // No Elysia body schema: the zod spec validates (with field paths in its errors) and documents the body.
        response: { 201: JobDetailSchema, ...errors(400, 401, 403, 409, 503) },
        detail: {
          summary: 'Create a stream job',
          description: 'Validates the spec (400 `invalid_spec` lists each problem with its field path), stores it and starts the job. 409 when the name is taken.',
          tags: ['streams'],
          requestBody: { required: true, content: { 'application/json': { schema: specDoc as never } } },
          ...protectedDetail,
        },
      },
    )
    .delete('/jobs/:name', async ({ params }) => (await jobs()).remove(params.name), {
      transform: mutationGuard(ctx),
      params: JobNameParams,
      response: { 200: t.Object({ deleted: t.String(), results_kept: t.Boolean() }), ...errors(400, 401, 403, 404, 409, 503) },
      detail: {
        summary: 'Delete a stream job',
        description: 'Stops the job cleanly (it commits what it has read) and forgets its definition and position. Its results and dead letters are kept. Jobs defined by a file answer 409.',
        tags: ['streams'],
        ...protectedDetail,
      },
    })
    .get(
      '/jobs/:name/results',
      async ({ params, query }) => {
        const limit = query.limit ?? 100;
        const r = await (await jobs()).results(params.name, { key: query.key, fromMs: timeParam('from', query.from), toMs: timeParam('to', query.to), limit, latest: query.latest });
        return { job: params.name, ...r };
      },
      {
        beforeHandle: ctx.limits.search,
        params: JobNameParams,
        query: ResultsQuerySchema,
        response: { 200: ResultsSchema, ...errors(400, 404, 429, 503) },
        detail: {
          summary: 'Window results of a job',
          description:
            'Newest first, from Postgres; `latest=true` gives the newest window per key from Redis (from Postgres for a job without the Redis sink). A job with `sinks: [redis]` keeps no history in Postgres. An empty parameter (`key=&from=`) means not given.',
          tags: ['streams'],
        },
      },
    )
    .get('/jobs/:name/dlq', async ({ params, query }) => ({ job: params.name, records: (await (await jobs()).dlq(params.name, query.limit ?? 100)).map(toDlqDto) }), {
      beforeHandle: ctx.limits.search,
      params: JobNameParams,
      query: t.Object({ limit: t.Optional(t.Integer({ minimum: 1, maximum: 1000, default: 100 })) }),
      response: { 200: t.Object({ job: t.String(), records: t.Array(DlqEntrySchema) }), ...errors(400, 404, 429, 503) },
      detail: { summary: 'Dead letters of a job', description: 'Records the job could not use, newest first, with the reason.', tags: ['streams'] },
    })
    .get(
      '/jobs/:name/live',
      async ({ params, request }) => {
        const manager = await jobs();
        await manager.get(params.name);
        const encoder = new TextEncoder();
        let cleanup = () => {};
        const stream = new ReadableStream<Uint8Array>({
          start(controller) {
            track(controller);
            const send = (text: string) => {
              try {
                controller.enqueue(encoder.encode(text));
              } catch {
                cleanup();
              }
            };
            send(`retry: 3000\n: live feed of ${params.name}\n\n`);
            const unsubscribe = manager.subscribe(params.name, (e) => send(`event: ${e.type}\ndata: ${JSON.stringify(e.type === 'window' ? e.result : e)}\n\n`));
            const heartbeat = setInterval(() => send(': ping\n\n'), HEARTBEAT_MS);
            cleanup = () => {
              clearInterval(heartbeat);
              unsubscribe();
              untrack(controller);
            };
            request.signal.addEventListener('abort', () => {
              cleanup();
              try {
                controller.close();
              } catch {}
            });
          },
          cancel: () => cleanup(),
        });
        return new Response(stream, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' } });
      },
      {
        params: JobNameParams,
        response: { 200: t.String({ description: 'text/event-stream: `event: window` with a window result, `event: retracted` when a session merge removes one' }), ...errors(400, 404, 503) },
        detail: { summary: 'Live feed of emitted windows (Server-Sent Events)', tags: ['streams'] },
      },
    );
}
