import { resolve, sep } from 'node:path';

/** The shared, read-only fixtures (real GDELT batches, JSONPlaceholder data). */
export const FIXTURES = resolve(import.meta.dir, '../../../shared/fixtures');

export type FixtureServer = {
  url: string;
  /** Number of requests seen per path, so tests can check retries and caching. */
  hits: Map<string, number>;
  /** Replace what a path answers (broken variants); return undefined to fall through to the files. */
  override(path: string, handler: ((req: Request) => Response | Promise<Response>) | undefined): void;
  stop(): void;
};

/**
 * Serves a directory (the shared fixtures by default) on a random loopback port, like the real public hosts
 * would, so the production download code runs unchanged against it.
 */
export function startFixtureServer(options: { root?: string; routes?: Record<string, (req: Request) => Response | Promise<Response>> } = {}): FixtureServer {
  const root = resolve(options.root ?? FIXTURES);
  const overrides = new Map(Object.entries(options.routes ?? {}));
  const hits = new Map<string, number>();
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      const path = decodeURIComponent(new URL(req.url).pathname);
      hits.set(path, (hits.get(path) ?? 0) + 1);
      const handler = overrides.get(path);
      if (handler) return handler(req);
      const file = resolve(root, '.' + path);
      if (!file.startsWith(root + sep)) return new Response('forbidden', { status: 403 });
      const f = Bun.file(file);
      return (await f.exists()) ? new Response(f) : new Response('not found', { status: 404 });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    hits,
    override: (path, handler) => (handler ? overrides.set(path, handler) : overrides.delete(path)),
    stop: () => server.stop(true),
  };
}
