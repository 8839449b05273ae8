import { afterAll, describe, expect, test } from 'bun:test';
import { fetchPage, type SourceOptions } from '../../src/features/etl/extract.ts';
import { ManualClock } from '../../src/platform/clock.ts';
import { AppError } from '../../src/platform/errors.ts';
import { memoryLogger } from '../../src/platform/log.ts';
import { startFixtureServer, waitFor } from '../helpers/index.ts';

// The extract stage against a real local server, with a manual clock so backoff delays can be read, not waited.
describe('fetchPage retries', () => {
  const fx = startFixtureServer();
  afterAll(() => fx.stop());
  const source = (path: string, extra: Partial<SourceOptions> = {}): SourceOptions => ({
    url: fx.url + path,
    pageSize: 0,
    timeoutMs: 5000,
    maxResponseBytes: 1 << 20,
    retries: 3,
    retryBaseDelayMs: 1000,
    ...extra,
  });

  test('a 429 with Retry-After waits the time the source asked for, then succeeds', async () => {
    let calls = 0;
    fx.override('/busy', () => (++calls === 1 ? new Response('slow down', { status: 429, headers: { 'retry-after': '7' } }) : Response.json([{ id: 1 }])));
    const clock = new ManualClock();
    const delays: number[] = [];
    const page = fetchPage(fx.url + '/busy', source('/busy'), { clock, log: memoryLogger(), onRetry: ({ delayMs }) => delays.push(delayMs) });
    await waitFor(() => clock.waiting === 1, { what: 'the backoff sleep' });
    expect(delays).toEqual([7000]);
    clock.advance(6999);
    expect(calls).toBe(1);
    clock.advance(1);
    expect((await page).records).toEqual([{ id: 1 }]);
    expect(calls).toBe(2);
  });

  test('without Retry-After the backoff grows exponentially with full jitter', async () => {
    fx.override('/flaky', () => new Response('oops', { status: 502 }));
    const clock = new ManualClock();
    const delays: number[] = [];
    const page = fetchPage(fx.url + '/flaky', source('/flaky'), { clock, log: memoryLogger(), random: () => 0.5, onRetry: ({ delayMs }) => delays.push(delayMs) });
    for (let i = 1; i <= 3; i++) {
      await waitFor(() => clock.waiting === 1 && delays.length === i, { what: `retry ${i}` });
      clock.advance(delays[i - 1]!);
    }
    const error = await page.catch((e) => e);
    expect(delays).toEqual([500, 1000, 2000]);
    expect(error).toBeInstanceOf(AppError);
    expect(error.message).toContain('Gave up after 4 attempts');
  });

  test('a Retry-After longer than the run is prepared to wait fails at once instead of hanging', async () => {
    fx.override('/later', () => new Response('come back tomorrow', { status: 503, headers: { 'retry-after': '86400' } }));
    const error = await fetchPage(fx.url + '/later', source('/later'), { clock: new ManualClock(), log: memoryLogger() }).catch((e) => e);
    expect(error.message).toContain('asked to retry after 86400 s');
    expect(fx.hits.get('/later')).toBe(1);
  });

  test('a 400 is not retried', async () => {
    fx.override('/bad', () => new Response('bad request', { status: 400 }));
    const error = await fetchPage(fx.url + '/bad', source('/bad'), { clock: new ManualClock(), log: memoryLogger() }).catch((e) => e);
    expect(error).toMatchObject({ code: 'etl_source_http_error', retryable: false });
    expect(fx.hits.get('/bad')).toBe(1);
  });
});
