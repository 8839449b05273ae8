import { describe, expect, test } from 'bun:test';
import { ManualClock } from '../../src/platform/clock.ts';
import { AppError, terminal, transient } from '../../src/platform/errors.ts';
import { backoffDelay, parseRetryAfter, retry } from '../../src/platform/retry.ts';

describe('retry', () => {
  test('backoff grows exponentially up to the cap, with jitter below it', () => {
    expect(backoffDelay(0, 100, 1000, () => 1)).toBe(100);
    expect(backoffDelay(3, 100, 1000, () => 1)).toBe(800);
    expect(backoffDelay(10, 100, 1000, () => 1)).toBe(1000);
    expect(backoffDelay(3, 100, 1000, () => 0.5)).toBe(400);
  });

  test('a transient failure is retried until it succeeds, sleeping on the injected clock', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const slept: number[] = [];
    const result = retry(
      async () => {
        if (++calls < 3) throw transient('flaky', 'try again');
        return 'ok';
      },
      { retries: 5, baseDelayMs: 100, clock, random: () => 1, onRetry: ({ delayMs }) => slept.push(delayMs) },
    );
    while (calls < 3) {
      await Bun.sleep(0);
      if (clock.waiting) clock.advance(10_000);
    }
    expect(await result).toBe('ok');
    expect(slept).toEqual([100, 200]);
  });

  test('a terminal failure is not retried', async () => {
    let calls = 0;
    await expect(retry(async () => { calls++; throw terminal('bad', 'no'); }, { retries: 5 })).rejects.toThrow('no');
    expect(calls).toBe(1);
  });

  test("the server's Retry-After wins over the computed backoff", async () => {
    const clock = new ManualClock();
    const delays: number[] = [];
    let calls = 0;
    const p = retry(async () => {
      if (calls++ === 0) throw new AppError('rate_limited', 'slow down', { status: 429, retryable: true, retryAfterMs: 7000 });
      return 1;
    }, { retries: 1, clock, onRetry: ({ delayMs }) => delays.push(delayMs) });
    await Bun.sleep(0);
    clock.advance(7000);
    await p;
    expect(delays).toEqual([7000]);
  });

  test("a Retry-After longer than maxDelayMs ends the retries with an error saying when to come back", async () => {
    const clock = new ManualClock();
    let calls = 0;
    const p = retry(async () => {
      calls++;
      throw new AppError('rate_limited', 'come back in an hour.', { status: 429, retryable: true, retryAfterMs: 3_600_000 });
    }, { retries: 3, maxDelayMs: 5000, clock });
    const error = (await p.catch((e) => e)) as AppError;
    expect(calls).toBe(1);
    expect(error.message).toBe('come back in an hour. The server asked to retry after 3600 s, longer than this caller waits (5 s); try again later.');
    expect(error).toMatchObject({ code: 'rate_limited', status: 429, retryable: true, retryAfterMs: 3_600_000 });
  });

  test('Retry-After is read as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('3', 0)).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter(null, 0)).toBeUndefined();
  });
});
