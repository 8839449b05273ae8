import { Elysia } from 'elysia';
import type { AppContext } from '../context.ts';
import { beginRequest, requestStartOf, requestIdOf } from './request.ts';

/**
 * Request id, metrics and access log for every request. The access line is at debug level: at tens of
 * thousands of requests a second a line each would cost more than the requests; errors are always logged.
 */
export const observe = (ctx: AppContext) => {
  const log = ctx.log.child({ component: 'http' });
  const debug = log.enabled('debug');
  return new Elysia({ name: 'platform.observe' })
    .onRequest(({ request, set }) => {
      set.headers['x-request-id'] = beginRequest(request);
    })
    .onAfterResponse({ as: 'global' }, ({ request, route, set }) => {
      const start = requestStartOf(request);
      const status = String(set.status ?? 200);
      const labels = { method: request.method, route: route || 'unmatched', status };
      ctx.metrics.httpRequests.inc(labels);
      if (start !== undefined) {
        const seconds = (performance.now() - start) / 1000;
        ctx.metrics.httpDuration.observe(labels, seconds);
        if (debug) log.debug('request', { requestId: requestIdOf(request), ...labels, ms: Math.round(seconds * 1000) });
      }
    });
};
