import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Clock } from '../../platform/clock.ts';
import { AppError, errorMessage, terminal, transient } from '../../platform/errors.ts';
import { parseRetryAfter, retry } from '../../platform/retry.ts';

export type FetchOptions = { timeoutMs: number; clock: Clock; signal?: AbortSignal; retries?: number };

/**
 * GET with a per-attempt timeout and retries with backoff for what may pass (network errors, timeouts, 5xx, 429);
 * a 4xx such as a 404 for a listed batch is terminal: asking again will not make the file appear.
 */
export async function fetchWithRetry(url: string, options: FetchOptions): Promise<Response> {
  return retry(
    async () => {
      const signal = options.signal ? AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)]) : AbortSignal.timeout(options.timeoutMs);
      let res: Response;
      try {
        res = await fetch(url, { signal, headers: { 'user-agent': 'sillage-gdelt/0.1' } });
      } catch (e) {
        if (options.signal?.aborted) throw options.signal.reason;
        throw transient('download_failed', `GET ${url} failed: ${errorMessage(e)}. It is retried with backoff.`, { cause: e });
      }
      if (res.ok) return res;
      await res.body?.cancel();
      if (res.status === 429 || res.status >= 500)
        throw transient('download_failed', `GET ${url} answered ${res.status}; retrying with backoff.`, { retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), options.clock.now()) });
      throw new AppError(res.status === 404 ? 'upstream_not_found' : 'download_rejected', `GET ${url} answered ${res.status}${res.status === 404 ? ': the manifest lists a file the server does not have' : ''}. Check GDELT_BASE_URL or try again when the mirror has caught up.`, { status: 502, retryable: false });
    },
    { retries: options.retries ?? 4, baseDelayMs: 500, maxDelayMs: 15_000, clock: options.clock, signal: options.signal },
  );
}

export type Downloaded = { path: string; bytes: number; md5: string };

/**
 * Streams a file to `path` while hashing it, then checks size and md5 against the manifest. On any failure the
 * partial file is removed, so nothing half-downloaded is ever read.
 */
export async function downloadVerified(url: string, path: string, expected: { size: number; md5: string }, options: FetchOptions): Promise<Downloaded> {
  try {
    const got = await retry(
      async () => {
        const res = await fetchWithRetry(url, { ...options, retries: 0 });
        const hash = new Bun.CryptoHasher('md5');
        const out = createWriteStream(path);
        let bytes = 0;
        try {
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            bytes += chunk.byteLength;
            // Stop early when the body is already longer than announced: it cannot match.
            if (bytes > expected.size) break;
            hash.update(chunk);
            if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
          }
        } catch (e) {
          throw transient('download_failed', `Reading ${url} failed after ${bytes} bytes: ${errorMessage(e)}.`, { cause: e });
        } finally {
          await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
        }
        return { bytes, md5: hash.digest('hex') };
      },
      { retries: options.retries ?? 4, baseDelayMs: 500, maxDelayMs: 15_000, clock: options.clock, signal: options.signal },
    );
    if (got.bytes !== expected.size)
      throw terminal('size_mismatch', `${url} is ${got.bytes > expected.size ? 'longer than' : `${got.bytes} bytes, not`} the ${expected.size} bytes the manifest lists (truncated or replaced). Nothing was published.`);
    if (got.md5 !== expected.md5)
      throw terminal('md5_mismatch', `${url} has md5 ${got.md5} but the manifest lists ${expected.md5}: the file is corrupt or was replaced. Nothing was published.`);
    return { path, ...got };
  } catch (e) {
    await rm(path, { force: true });
    throw e;
  }
}
