import { generatePosts } from './posts.ts';

/**
 * A json-server-like source of N generated posts on PORT: `_page`/`_limit`, `X-Total-Count` and a `Link` header
 * with rel="next". Pages are serialised once and cached, so the figure measures the ETL, not this server.
 * `/warm/posts` serves the first WARM posts for warm-up runs.
 */
const n = Number(Bun.env.N ?? 100_000);
const warm = Number(Bun.env.WARM ?? 10_000);
const posts = generatePosts(n);
const cache = new Map<string, Uint8Array<ArrayBuffer>>();

function page(req: Request, all: typeof posts): Response {
  const url = new URL(req.url);
  const limit = Number(url.searchParams.get('_limit') ?? 0);
  const p = Number(url.searchParams.get('_page') ?? 1);
  const key = `${url.pathname} ${p} ${limit}`;
  const slice = limit ? all.slice((p - 1) * limit, p * limit) : all;
  let body = cache.get(key);
  if (!body) cache.set(key, (body = new TextEncoder().encode(JSON.stringify(slice))));
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-total-count': String(all.length) };
  if (limit && p * limit < all.length) headers.link = `<${url.pathname}?_page=${p + 1}&_limit=${limit}>; rel="next"`;
  return new Response(body, { headers });
}

const server = Bun.serve({
  port: Number(Bun.env.PORT ?? 0),
  hostname: '127.0.0.1',
  fetch(req) {
    const path = new URL(req.url).pathname;
    if (path === '/posts') return page(req, posts);
    if (path === '/warm/posts') return page(req, posts.slice(0, warm));
    return new Response('not found', { status: 404 });
  },
});
console.log(`listening ${server.port}`);
