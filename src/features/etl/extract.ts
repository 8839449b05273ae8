import type { Clock } from '../../platform/clock.ts';
import { AppError, errorMessage } from '../../platform/errors.ts';
import type { Logger } from '../../platform/log.ts';
import { parseRetryAfter, retry } from '../../platform/retry.ts';

/**
 * The extract stage: reads the source page by page. Each request has a timeout and a size cap; network errors,
 * timeouts, 5xx, 408 and 429 are retried with exponential backoff and full jitter (a Retry-After wins), other
 * answers fail at once. Pages come from a `Link: <…>; rel="next"` header, or from `_page`/`_limit` with
 * `X-Total-Count` (json-server, JSONPlaceholder); a source that offers neither is read as one response.
 */

export type SourceOptions = {
  url: string;
  /** Records asked for per page with `_page`/`_limit`; 0 = ask for the whole collection at once. */
  pageSize: number;
  timeoutMs: number;
  maxResponseBytes: number;
  retries: number;
  retryBaseDelayMs: number;
  /** Longest backoff, and the longest Retry-After honoured (a longer one fails the request). */
  maxRetryDelayMs?: number;
};

export type Page = { records: unknown[]; url: string; page: number };

export type ExtractContext = {
  clock: Clock;
  log: Logger;
  signal?: AbortSignal;
  onRetry?: (info: { url: string; attempt: number; delayMs: number; error: unknown }) => void;
  /** Draw for the backoff jitter (tests make it reproducible). */
  random?: () => number;
};

const FIX = 'Set ETL_SOURCE_URL to the http(s) URL of a JSON array of posts (like https://jsonplaceholder.typicode.com/posts).';

/** Parses an RFC 8288 Link header into rel → URL (first one wins). */
export function parseLinkHeader(header: string | null): Record<string, string> {
  const links: Record<string, string> = {};
  if (!header) return links;
  for (const m of header.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]+)*)/g)) {
    const rel = /;\s*rel\s*=\s*"?([^";,]+)"?/i.exec(m[2] ?? '')?.[1];
    if (!rel) continue;
    for (const r of rel.trim().toLowerCase().split(/\s+/)) links[r] ??= m[1]!;
  }
  return links;
}

/** The source URL asking for one page (`_page` is 1-based, as json-server counts). */
export function pageUrl(url: string, page: number, limit: number): string {
  if (limit <= 0) return url;
  const u = new URL(url);
  u.searchParams.set('_page', String(page));
  u.searchParams.set('_limit', String(limit));
  return u.toString();
}

const upstream = (code: string, message: string, options: { retryable: boolean; retryAfterMs?: number; cause?: unknown }) =>
  new AppError(code, message, { status: options.retryable ? 503 : 502, ...options });

async function readCapped(res: Response, maxBytes: number, url: string): Promise<string> {
  const tooLarge = (size: string) =>
    upstream('etl_source_too_large', `The ETL source sent ${size} for ${url}, more than ETL_MAX_RESPONSE_BYTES=${maxBytes}. Raise ETL_MAX_RESPONSE_BYTES, or lower ETL_PAGE_SIZE if the source pages with _page/_limit.`, { retryable: false });
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) {
    await res.body?.cancel();
    throw tooLarge(`${declared} bytes`);
  }
  // A declared length within the cap is enforced by the HTTP client itself: read at native speed.
  if (declared <= maxBytes) return res.text();
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge(`more than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') {
    const keys = Object.keys(value as object);
    return `a JSON object (keys: ${keys.slice(0, 5).join(', ') || 'none'}${keys.length > 5 ? ', …' : ''})`;
  }
  return `a JSON ${typeof value}`;
}

/** One request: the page's records and headers, or an AppError that says whether retrying can help. */
async function fetchOnce(url: string, source: SourceOptions, signal?: AbortSignal): Promise<{ records: unknown[]; headers: Headers }> {
  const timeout = AbortSignal.timeout(source.timeoutMs);
  const both = signal ? AbortSignal.any([signal, timeout]) : timeout;
  const failed = (error: unknown): never => {
    if (signal?.aborted) throw signal.reason;
    if (timeout.aborted)
      throw upstream('etl_source_timeout', `The ETL source did not answer ${url} within ETL_TIMEOUT_MS=${source.timeoutMs} ms. Check that it is up, or raise ETL_TIMEOUT_MS for a slow source.`, { retryable: true, cause: error });
    if (error instanceof AppError) throw error;
    const code = (error as { code?: string })?.code;
    throw upstream('etl_source_unreachable', `The ETL source at ${url} could not be reached (${code ?? errorMessage(error)}). Start it or check the network, or set ETL_SOURCE_URL to a source that is reachable from here.`, { retryable: true, cause: error });
  };

  let res: Response;
  try {
    res = await fetch(url, { signal: both, headers: { accept: 'application/json' } });
  } catch (error) {
    return failed(error);
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    const retryable = res.status >= 500 || res.status === 429 || res.status === 408;
    const what = `The ETL source answered ${res.status} ${res.statusText} for ${url}`;
    throw upstream('etl_source_http_error', retryable ? `${what}; the source may recover, try again later.` : `${what}; retrying cannot help. ${FIX}`, {
      retryable,
      retryAfterMs: retryable ? parseRetryAfter(res.headers.get('retry-after'), Date.now()) : undefined,
    });
  }
  let text: string;
  try {
    text = await readCapped(res, source.maxResponseBytes, url);
  } catch (error) {
    return failed(error);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw upstream('etl_source_invalid_json', `The ETL source sent a body that is not valid JSON for ${url} (${errorMessage(error)}; it starts with ${JSON.stringify(text.slice(0, 40))}). ${FIX}`, { retryable: false, cause: error });
  }
  if (!Array.isArray(parsed))
    throw upstream('etl_source_not_array', `The ETL source sent ${describeJson(parsed)} for ${url}, not an array of posts. ${FIX}`, { retryable: false });
  return { records: parsed, headers: res.headers };
}

/** One page with retries; the final error says how many attempts were made. */
export async function fetchPage(url: string, source: SourceOptions, ctx: ExtractContext) {
  const maxDelayMs = source.maxRetryDelayMs ?? 30_000;
  let attempts = 0;
  try {
    return await retry(
      async () => {
        attempts++;
        try {
          return await fetchOnce(url, source, ctx.signal);
        } catch (error) {
          // A server asking for a longer pause than we are prepared to wait is a failure now, not a hang.
          if (error instanceof AppError && error.retryAfterMs !== undefined && error.retryAfterMs > maxDelayMs)
            throw upstream(error.code, `${error.message} It asked to retry after ${Math.ceil(error.retryAfterMs / 1000)} s, longer than this run waits (${maxDelayMs / 1000} s).`, { retryable: false });
          throw error;
        }
      },
      {
        retries: source.retries,
        baseDelayMs: source.retryBaseDelayMs,
        maxDelayMs,
        clock: ctx.clock,
        signal: ctx.signal,
        random: ctx.random,
        onRetry: ({ attempt, delayMs, error }) => {
          ctx.log.warn('source request failed, retrying', { url, attempt, delayMs, error: errorMessage(error) });
          ctx.onRetry?.({ url, attempt, delayMs, error });
        },
      },
    );
  } catch (error) {
    if (error instanceof AppError && error.retryable && attempts > 1)
      throw new AppError(error.code, `${error.message} Gave up after ${attempts} attempts.`, { status: error.status, retryable: true, cause: error.cause });
    throw error;
  }
}

/**
 * Yields the source's pages in order. The next page is requested while the caller works on the current one,
 * so transforming overlaps with the network.
 */
export async function* extractPages(source: SourceOptions, ctx: ExtractContext): AsyncGenerator<Page> {
  const local = new AbortController();
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, local.signal]) : local.signal;
  const pageCtx = { ...ctx, signal };
  const visited = new Set<string>();
  let url: string | undefined = pageUrl(source.url, 1, source.pageSize);
  let pending: ReturnType<typeof fetchPage> | undefined = fetchPage(url, source, pageCtx);
  try {
    for (let page = 1; pending && url; page++) {
      visited.add(url);
      const { records, headers } = await pending;
      pending = undefined;
      const current: string = url;
      url = nextPageUrl({ url: current, page, records, headers, source, log: ctx.log });
      if (url && visited.has(url))
        throw upstream('etl_source_pagination', `The ETL source's pages loop back to ${url} (from page ${page}); stopping instead of reading for ever. Set ETL_PAGE_SIZE=0 to read it in one request.`, { retryable: false });
      if (url) {
        pending = fetchPage(url, source, pageCtx);
        // Observed here so that an early stop by the caller never leaves an unhandled rejection behind.
        pending.catch(() => {});
      }
      yield { records, url: current, page };
    }
  } finally {
    local.abort(new Error('extraction finished'));
  }
}

function nextPageUrl(o: { url: string; page: number; records: unknown[]; headers: Headers; source: SourceOptions; log: Logger }): string | undefined {
  const { pageSize } = o.source;
  if (o.records.length === 0) return undefined;
  // More than asked for: the source ignores _limit and sent everything.
  if (pageSize > 0 && o.records.length > pageSize) return undefined;
  const next = parseLinkHeader(o.headers.get('link')).next;
  if (next) {
    const resolved = new URL(next, o.url);
    if (resolved.origin !== new URL(o.url).origin)
      throw upstream('etl_source_pagination', `The ETL source's next page ${resolved} is on another host than ${o.url}; only same-origin pages are followed. Set ETL_PAGE_SIZE=0 to read it in one request.`, { retryable: false });
    return resolved.toString();
  }
  const total = Number(o.headers.get('x-total-count') ?? NaN);
  if (pageSize > 0 && Number.isInteger(total)) return o.page * pageSize < total ? pageUrl(o.source.url, o.page + 1, pageSize) : undefined;
  if (pageSize > 0 && o.records.length === pageSize)
    o.log.warn('the source sent exactly one full page and no Link or X-Total-Count header; if it pages in another way, later pages were not read', { url: o.url, records: o.records.length });
  return undefined;
}
