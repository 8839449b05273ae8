import { Elysia, t } from 'elysia';
import type { AppContext } from '../context.ts';

export const metricsRoutes = (ctx: AppContext) => {
  const text = async () => new Response(await ctx.metrics.text(), { headers: { 'content-type': ctx.metrics.contentType } });
  return new Elysia({ name: 'platform.metrics' })
    .get(
      '/metrics',
      async ({ request }) => {
        if ((request.headers.get('accept') ?? '').includes('application/json')) return Response.json(await ctx.metrics.summary());
        return text();
      },
      {
        response: { 200: t.Union([t.String({ description: 'Prometheus text exposition' }), t.Record(t.String(), t.Any())]) },
        detail: { summary: 'Metrics', description: 'Prometheus text; a JSON summary with `Accept: application/json`.', tags: ['platform'] },
      },
    )
    .get('/metrics/prometheus', text, {
      response: { 200: t.String({ description: 'Prometheus text exposition' }) },
      detail: { summary: 'Metrics (Prometheus text)', tags: ['platform'] },
    });
};
