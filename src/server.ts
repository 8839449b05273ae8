import type { Server } from 'bun';
import { createApp, createHandler } from './http.ts';
import type { AppContext } from './platform/context.ts';
import { bodyLimit, hardCap } from './platform/http/body-limit.ts';

/** Starts the HTTP server for a context: the app behind the instrumented handler, with the body size limit (a JSON 413). */
export function startServer(ctx: AppContext, options: { port?: number; hostname?: string } = {}): Server<undefined> {
  const app = createApp(ctx);
  const server = Bun.serve({
    port: options.port ?? ctx.config.PORT,
    hostname: options.hostname ?? ctx.config.HOST,
    fetch: bodyLimit(createHandler(ctx, app), ctx.config.MAX_BODY_BYTES),
    maxRequestBodySize: hardCap(ctx.config.MAX_BODY_BYTES),
    // Long-lived SSE streams must not be cut by the idle timeout; handlers send keep-alive comments instead.
    idleTimeout: 0,
  });
  // Routes reach the socket (client address for rate limits) through Elysia's `server`.
  app.server = server as never;
  return server;
}
