import { cors } from '@elysiajs/cors';
import { Elysia } from 'elysia';
import { etl } from './features/etl/index.ts';
import { gdelt } from './features/gdelt/index.ts';
import { streams } from './features/streams/index.ts';
import type { AppContext } from './platform/context.ts';
import { docs } from './platform/http/docs.ts';
import { errorHandler } from './platform/http/errors.ts';
import { healthRoutes } from './platform/http/health.ts';
import { metricsRoutes } from './platform/http/metrics.ts';
import { instrument } from './platform/http/observe.ts';
import { web } from './platform/http/web.ts';
import { engagement } from './features/engagement/index.ts';

/**
 * Composes the app. Each feature is one `.use(...)` line: removing it leaves a service that still builds and runs.
 */
export function createApp(ctx: AppContext) {
  const origins = ctx.config.CORS_ORIGINS;
  return new Elysia()
    .use(origins ? cors({ origin: origins === '*' ? true : origins.split(','), allowedHeaders: ['content-type', 'authorization'] }) : new Elysia())
    .use(errorHandler(ctx))
    .use(docs())
    .use(healthRoutes(ctx))
    .use(metricsRoutes(ctx))
    .use(web())
    .use(etl(ctx))
    .use(gdelt(ctx))
    .use(streams(ctx))
    .use(engagement(ctx));
}

export type App = ReturnType<typeof createApp>;

/** The request handler the server runs: the app plus request metrics and access logging. */
export const createHandler = (ctx: AppContext, app = createApp(ctx)) => instrument(app, ctx);
