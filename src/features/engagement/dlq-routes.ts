import { Elysia } from 'elysia';
import type { AppContext } from '../../platform/context.ts';
import { unavailable } from '../../platform/errors.ts';
import { mutationGuard, protectedDetail } from '../../platform/http/auth.ts';
import { errors } from '../../platform/http/schemas.ts';
import type { EngagementAccess } from './access.ts';
import { countDeadLetters, deadLetterView, findDeadLetters } from './dead-letters.ts';
import { DlqQuery, DlqReply, ReplayQuery, ReplayReply } from './model.ts';
import { engagementNames } from './names.ts';
import { replayDeadLetters } from './replay.ts';
import { dropEmptyQuery } from '../../platform/http/query.ts';

/** The dead-letter queue: list what the pipeline gave up on, and re-drive it. */
export function dlqRoutes(ctx: AppContext, access: EngagementAccess) {
  const topic = engagementNames(ctx.config).dlqTopic;
  return new Elysia({ name: 'engagement.dlq' })
    .onTransform(dropEmptyQuery)
    .get(
      '/dlq',
      async ({ query }) => {
        const sql = await access.sql();
        const [rows, counts] = await Promise.all([
          findDeadLetters(sql, { limit: query.limit ?? 50, sink: query.sink, reason: query.reason, pending: query.pending }),
          countDeadLetters(sql),
        ]);
        return { topic, ...counts, items: rows.map(deadLetterView) };
      },
      {
        beforeHandle: ctx.limits.search,
        query: DlqQuery,
        response: { 200: DlqReply, ...errors(400, 429, 503) },
        detail: {
          summary: 'List dead letters',
          description: `Newest first: what a sink gave up on (its retry budget spent, or a terminal error such as a 400 from the REST endpoint) and records refused before the fan-out (not JSON, wrong shape, unknown content), with the reason, attempts, first/last failure time, source position and the original bytes. The same letters are in the Kafka topic \`${topic}\` with \`dlq-*\` headers.`,
          tags: ['engagement'],
        },
      },
    )
    .post(
      '/dlq/replay',
      async ({ query }) => {
        if (!access.catalogue) throw unavailable('engagement_disabled', 'Replay needs Postgres: set DATABASE_URL.');
        return replayDeadLetters(
          { sql: await access.sql(), sinks: await access.sinks(), catalogue: access.catalogue, log: ctx.log.child({ component: 'dlq-replay' }) },
          { sink: query.sink, ids: query.ids?.split(','), limit: query.limit ?? 1000 },
        );
      },
      {
        transform: mutationGuard(ctx),
        query: ReplayQuery,
        response: { 200: ReplayReply, ...errors(400, 401, 403, 404, 429, 503) },
        detail: {
          summary: 'Replay dead letters',
          description:
            'Decodes and enriches each pending letter again and writes it to the sink that gave up on it (or to every sink when it was refused before the fan-out). Sinks apply an event id once, so replaying is safe to repeat. `ids` limits it to those message ids: 404 `dlq_ids_not_found` (nothing replayed) when some are not pending. A letter whose sinks all acknowledged is marked replayed; one that fails again stays pending and is listed in `failed`.',
          tags: ['engagement'],
          ...protectedDetail,
        },
      },
    );
}
