import { Elysia } from 'elysia';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { ROOT } from '../context.ts';

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
};

export const securityHeaders = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

type Asset = { body: Uint8Array<ArrayBuffer>; gzip: Uint8Array<ArrayBuffer>; type: string; etag: string };

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

/**
 * Loads the page's files once at start into memory (gzip precomputed). Requests are looked up by exact name
 * in that table, so a URL never becomes a file path.
 */
/** Third-party browser files served from installed packages (the machine may be offline: no CDN). */
const vendor: Record<string, string> = {
  '/vendor/uplot.js': 'node_modules/uplot/dist/uPlot.iife.min.js',
  '/vendor/uplot.css': 'node_modules/uplot/dist/uPlot.min.css',
};

function asset(file: string): Asset | undefined {
  const type = types[extname(file)];
  if (!type) return undefined;
  const body = new Uint8Array(readFileSync(file));
  return { body, gzip: new Uint8Array(Bun.gzipSync(body)), type, etag: `"${Bun.hash(body).toString(36)}"` };
}

export function loadAssets(dir = join(ROOT, 'src/web')): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const file of walk(dir)) {
    const a = asset(file);
    if (a) assets.set('/' + relative(dir, file).replaceAll('\\', '/'), a);
  }
  for (const [name, file] of Object.entries(vendor)) {
    const a = asset(join(ROOT, file));
    if (a) assets.set(name, a);
  }
  return assets;
}

function serve(asset: Asset, request: Request, cache: string) {
  const headers: Record<string, string> = { 'content-type': asset.type, etag: asset.etag, 'cache-control': cache, vary: 'accept-encoding', ...securityHeaders };
  if (request.headers.get('if-none-match') === asset.etag) return new Response(null, { status: 304, headers });
  if ((request.headers.get('accept-encoding') ?? '').includes('gzip')) return new Response(asset.gzip, { headers: { ...headers, 'content-encoding': 'gzip' } });
  return new Response(asset.body, { headers });
}

export const web = (options: { dir?: string } = {}) => {
  const assets = loadAssets(options.dir);
  const index = assets.get('/index.html')!;
  return new Elysia({ name: 'platform.web' })
    .get('/', ({ request }) => serve(index, request, 'no-cache'), { detail: { hide: true } })
    .get('/assets/*', ({ params, request, set }) => {
      const asset = assets.get('/' + params['*']);
      if (!asset) {
        set.status = 404;
        return { error: { code: 'not_found', message: `No asset named ${JSON.stringify(params['*'])}.` } };
      }
      return serve(asset, request, 'no-cache');
    }, { detail: { hide: true } });
};
