import { Elysia, t } from 'elysia';
import type { AppContext } from '../context.ts';
import type { HealthSnapshot } from '../health.ts';

const Status = t.Union([t.Literal('ok'), t.Literal('down'), t.Literal('disabled')]);
const HealthSchema = t.Object({
  status: t.Union([t.Literal('ok'), t.Literal('down')]),
  components: t.Record(t.String(), Status, { description: 'ok, down or disabled per component' }),
  details: t.Record(t.String(), t.Object({ status: Status, reason: t.Optional(t.String()) }, { additionalProperties: true })),
  workers: t.Record(t.String(), t.Any()),
});

const reply = ({ report, body }: HealthSnapshot) =>
  new Response(body, { status: report.status === 'ok' ? 200 : 503, headers: { 'content-type': 'application/json' } });

export const healthRoutes = (ctx: AppContext) =>
  new Elysia({ name: 'platform.health' }).get(
    '/health',
    () => {
      const answer = ctx.health.current();
      if (answer instanceof Promise) return answer.then(reply);
      return reply(answer);
    },
    {
      response: { 200: HealthSchema, 503: HealthSchema },
      detail: { summary: 'Health of every component', description: 'Each component is `ok`, `down` or `disabled` (not configured). 503 when an enabled component is down. Use it for readiness.', tags: ['platform'] },
    },
  )
  // Liveness only asks "is this process serving?": a dependency outage must take pods out of rotation (readiness
  // on /health), not restart every one of them.
  .get('/health/live', () => liveReply(), {
    response: { 200: t.Object({ status: t.Literal('ok') }) },
    detail: { summary: 'Liveness: the process serves requests', description: 'Always 200 while the event loop answers; no dependency is checked. For Kubernetes liveness probes.', tags: ['platform'] },
  });

const liveBody = JSON.stringify({ status: 'ok' });
const liveReply = () => new Response(liveBody, { headers: { 'content-type': 'application/json' } });
