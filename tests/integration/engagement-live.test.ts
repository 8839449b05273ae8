import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import Redis from 'ioredis';
import { RedisEngagementSink } from '../../src/features/engagement/redis-sink.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { engagementEnvelope, SAMPLE_CONTENT } from '../helpers/engagement.ts';
import { services, skipReason, testApp, uniqueName, type TestApp } from '../helpers/index.ts';

setDefaultTimeout(60_000);

/** Reads Server-Sent Events from a response body, one parsed `{ event, data }` at a time. */
function sseReader(res: Response) {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const next = async (): Promise<{ event: string; data: any }> => {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) return { event, data: JSON.parse(data) };
        continue;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error('the feed ended');
      buffer += decoder.decode(value, { stream: true });
    }
  };
  return Object.assign(next, { cancel: () => reader.cancel() });
}

describe.skipIf(!!skipReason('redis'))('the live top-content feed', () => {
  const prefix = `${uniqueName('live')}:`;
  let t: TestApp;
  let redis: Redis;
  let sink: RedisEngagementSink;

  beforeAll(async () => {
    redis = new Redis(services.redis!);
    sink = new RedisEngagementSink({ redis, prefix, windowMinutes: 10, clock: systemClock });
    // ROLE=api serves the live aggregates without running the pipeline; the test writes them with the real sink.
    t = await testApp({ REDIS_URL: services.redis!, REDIS_KEY_PREFIX: prefix, ROLE: 'api' });
  });

  afterAll(async () => {
    await t?.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  test('sends the ranking at once, then a new one within seconds of events being applied, with events per minute', async () => {
    await sink.write([1, 4].map((n) => engagementEnvelope(n, { content_id: SAMPLE_CONTENT[1]!, title: 'First' })));
    const res = await t.request('/top-content/live?limit=5');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const next = sseReader(res);
    const first = await next();
    expect(first.event).toBe('top');
    expect(first.data).toMatchObject({ window_minutes: 10, applied: 2, items: [{ content_id: SAMPLE_CONTENT[1], title: 'First', events: 2 }] });
    expect(first.data.items[0].events_per_minute).toHaveLength(10);
    expect(first.data.items[0].events_per_minute.at(-1)).toBe(2);

    await sink.write([2, 5, 8].map((n) => engagementEnvelope(n, { content_id: SAMPLE_CONTENT[2]!, title: 'Second' })));
    let update = await next();
    // A minute boundary may send the same ranking once more before the new events show.
    while (update.data.applied < 5) update = await next();
    expect(update.event).toBe('top');
    expect(update.data.items.map((i: any) => [i.title, i.events])).toEqual([['Second', 3], ['First', 2]]);
    expect(update.data.items[0].events_per_minute.reduce((a: number, b: number) => a + b, 0)).toBe(3);
    await next.cancel();
  });

  test('/top-content and /content/:id/stats carry the same events per minute, oldest first', async () => {
    const top = await t.json('/top-content?window_minutes=3');
    expect(top.body.items[0].events_per_minute).toHaveLength(3);
    const stats = await t.json(`/content/${SAMPLE_CONTENT[2]}/stats?window_minutes=3`);
    expect(stats.body.events_per_minute.reduce((a: number, b: number) => a + b, 0)).toBe(stats.body.events);
  });

  test('open feeds end when the server begins shutting down', async () => {
    const other = await testApp({ REDIS_URL: services.redis!, REDIS_KEY_PREFIX: prefix, ROLE: 'api' });
    try {
      const res = await other.request('/top-content/live');
      const next = sseReader(res);
      expect((await next()).event).toBe('top');
      other.ctx.beginShutdown();
      await expect(next()).rejects.toThrow('the feed ended');
    } finally {
      await other.close();
    }
  });
});
