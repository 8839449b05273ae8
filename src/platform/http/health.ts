import { Elysia, t } from 'elysia';
import type { AppContext } from '../context.ts';

const Status = t.Union([t.Literal('ok'), t.Literal('down'), t.Literal('disabled')]);
const HealthSchema = t.Object({
  status: t.Union([t.Literal('ok'), t.Literal('down')]),
  components: t.Record(t.String(), Status, { description: 'ok, down or disabled per component' }),
  details: t.Record(t.String(), t.Object({ status: Status, reason: t.Optional(t.String()) }, { additionalProperties: true })),
  workers: t.Record(t.String(), t.Any()),
});

export const healthRoutes = (ctx: AppContext) =>
  new Elysia({ name: 'platform.health' }).get(
    '/health',
    async ({ set }) => {
      const report = await ctx.health.report();
      if (report.status !== 'ok') set.status = 503;
      return report;
    },
    {
      response: { 200: HealthSchema, 503: HealthSchema },
      detail: { summary: 'Health of every component', description: 'Each component is `ok`, `down` or `disabled` (not configured). 503 when an enabled component is down.', tags: ['platform'] },
    },
  );
