import { type Clock, systemClock } from './clock.ts';
import { AppError, isRetryable } from './errors.ts';

export type RetryOptions = {
  /** Attempts after the first one. */
  retries: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  clock?: Clock;
  signal?: AbortSignal;
  isRetryable?: (error: unknown) => boolean;
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
  /** Random source for jitter, injectable so delays are reproducible in tests. */
  random?: () => number;
};

/**
 * Exponential backoff with full jitter (AWS architecture blog): the delay is uniform in [0, min(max, base·2^n)],
 * which spreads retries of many clients. A server's Retry-After (AppError.retryAfterMs) wins when given; one longer
 * than `maxDelayMs` ends the retries (a server asking for an hour must not hold the caller for an hour, and an
 * earlier retry would be refused anyway).
 */
export function backoffDelay(attempt: number, baseDelayMs: number, maxDelayMs: number, random = Math.random): number {
  const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** attempt);
  return Math.round(random() * cap);
}

export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const { retries, baseDelayMs = 200, maxDelayMs = 10_000, clock = systemClock, signal } = options;
  const retryable = options.isRetryable ?? isRetryable;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= retries || !retryable(error) || signal?.aborted) throw error;
      const hinted = error instanceof AppError ? error.retryAfterMs : undefined;
      // Retrying sooner than the server asked would only be refused again: a wait longer than this caller's
      // longest one ends the retries, with an error that says when to come back.
      if (hinted !== undefined && hinted > maxDelayMs) {
        const e = error as AppError;
        throw new AppError(e.code, `${e.message} The server asked to retry after ${Math.ceil(hinted / 1000)} s, longer than this caller waits (${Math.ceil(maxDelayMs / 1000)} s); try again later.`, { status: e.status, retryable: true, retryAfterMs: hinted, details: e.details, cause: e });
      }
      const delayMs = hinted ?? backoffDelay(attempt, baseDelayMs, maxDelayMs, options.random);
      options.onRetry?.({ attempt: attempt + 1, delayMs, error });
      await clock.sleep(delayMs, signal);
    }
  }
}

/** Parses an HTTP Retry-After header (seconds or HTTP date) into milliseconds from `now`. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
