import { SpanStatusCode, type Span } from '@opentelemetry/api';
import type { AppContext } from '../context.ts';
import { requestIdOf } from './request.ts';

type Fetch = (request: Request) => Response | Promise<Response>;

/** Maps a request path to the route pattern it matched (`/posts/:id`), so metric labels stay few. */
export function routeLabeler(patterns: string[]) {
  const exact = new Map<string, string>();
  const dynamic: [RegExp, string][] = [];
  for (const p of new Set(patterns)) {
    if (!p.includes(':') && !p.includes('*')) exact.set(p, p);
    else {
      const source = p.split('/').map((seg) => (seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))).join('/');
      dynamic.push([new RegExp(`^${source}$`), p]);
    }
  }
  const seen = new Map<string, string>();
  return (path: string): string => {
    const hit = exact.get(path) ?? seen.get(path);
    if (hit) return hit;
    const label = dynamic.find(([re]) => re.test(path))?.[1] ?? 'unmatched';
    // Bounded memo: arbitrary paths (ids, scanners) must not grow memory without end.
    if (seen.size > 10_000) seen.clear();
    seen.set(path, label);
    return label;
  };
}

/**
 * Wraps the app's fetch with request metrics and the debug access log. Done here rather than in Elysia's
 * onRequest/onAfterResponse hooks because those cost ~20% of the throughput of a small route
 * (onAfterResponse schedules a setImmediate per request); this wrapper costs one clock read and one map update.
 */
export function instrument(app: { fetch: Fetch; routes: { path: string }[] }, ctx: AppContext): Fetch {
  const label = routeLabeler(app.routes.map((r) => r.path));
  const http = ctx.metrics.http;
  const log = ctx.log.child({ component: 'http' });
  const debug = log.enabled('debug');
  const tracing = ctx.tracing;
  const finish = (request: Request, response: Response, t0: number, span?: Span) => {
    const url = request.url;
    const start = url.indexOf('/', url.indexOf('//') + 2);
    const q = url.indexOf('?', start);
    const route = label(q < 0 ? url.slice(start) : url.slice(start, q));
    const seconds = (performance.now() - t0) / 1000;
    http.observe(request.method, route, response.status, seconds);
    if (span) {
      span.updateName(`${request.method} ${route}`);
      span.setAttributes({ 'http.route': route, 'http.response.status_code': response.status });
      if (response.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    if (debug) log.debug('request', { requestId: requestIdOf(request), method: request.method, route, status: response.status, ms: Math.round(seconds * 1000) });
    return response;
  };
  if (!tracing.enabled)
    return (request) => {
      const t0 = performance.now();
      const r = app.fetch(request);
      return r instanceof Promise ? r.then((res) => finish(request, res, t0)) : finish(request, r, t0);
    };
  return (request) => {
    const t0 = performance.now();
    const span = tracing.start(`${request.method}`, { 'http.request.method': request.method, 'url.full': request.url });
    const r = app.fetch(request);
    return r instanceof Promise ? r.then((res) => finish(request, res, t0, span)) : finish(request, r, t0, span);
  };
}
