import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import Redis from 'ioredis';
import { systemClock } from '../../src/platform/clock.ts';
import { memoryLogger } from '../../src/platform/log.ts';
import { FanOut } from '../../src/platform/stream/fanout.ts';
import { liveKeys } from '../../src/features/engagement/keys.ts';
import type { EngagementEvent } from '../../src/features/engagement/model.ts';
import { RedisEngagementSink } from '../../src/features/engagement/redis-sink.ts';
import { engagementEnvelope } from '../helpers/engagement.ts';
import { services, skipReason, uniqueName } from '../helpers/index.ts';
import { deleteKeys } from '../helpers/redis.ts';

setDefaultTimeout(30_000);

async function totalEvents(redis: Redis, prefix: string) {
  let cursor = '0';
  let total = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}eng:agg:*`, 'COUNT', 1000);
    for (const k of keys) total += Number((await redis.hget(k, 'events')) ?? 0);
    cursor = next;
  } while (cursor !== '0');
  return total;
}

describe.skipIf(!!skipReason('redis'))('live aggregates after Redis loses its data', () => {
  const prefix = `${uniqueName('rebuild')}:`;
  const redis = services.redis ? new Redis(services.redis) : undefined!;
  afterAll(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  test('the window is rebuilt from the warehouse, events acknowledged before the loss are written again before the commit, and nothing counts twice', async () => {
    // What the warehouse holds: the events committed before the restart.
    const warehouse: EngagementEvent[] = [];
    let rebuilds = 0;
    const sink = new RedisEngagementSink({
      redis,
      prefix,
      windowMinutes: 10,
      clock: systemClock,
      rebuildFrom: async function* () {
        rebuilds++;
        yield warehouse;
      },
    });
    const committed = [1, 2, 3].map((n) => engagementEnvelope(n));
    expect((await sink.write(committed)).applied).toHaveLength(3);
    warehouse.push(...committed.map((e) => e.value));
    expect(await totalEvents(redis, prefix)).toBe(3);

    // A batch acknowledged by Redis but not committed yet (the warehouse is still writing it)…
    const inFlight = [4, 5].map((n) => engagementEnvelope(n));
    expect((await sink.write(inFlight)).applied).toHaveLength(2);
    // …then Redis restarts empty: everything under the prefix goes, as when a Redis without persistence restarts.
    await deleteKeys(redis, prefix);
    expect(await sink.recheck(inFlight)).toEqual(inFlight.map((e) => e.id));

    // The next write finds no epoch: the window is rebuilt from the warehouse first.
    const fanOut = new FanOut({ sinks: [{ sink }], clock: systemClock, log: memoryLogger() });
    const next = await fanOut.deliver([6].map((n) => engagementEnvelope(n)));
    expect(next.perSink.redis!.applied).toBe(1);
    // Once at first use (an empty prefix has no epoch either), once after the loss.
    expect(rebuilds).toBe(2);
    expect(await redis.get(liveKeys(prefix).epoch)).toBeTruthy();
    expect(await totalEvents(redis, prefix)).toBe(4);

    // The in-flight batch, rechecked before its commit, is written again under the new epoch.
    const lost = await sink.recheck(inFlight);
    expect(lost).toEqual(inFlight.map((e) => e.id));
    const again = await sink.write(inFlight.filter((e) => lost.includes(e.id)));
    expect(again.applied).toHaveLength(2);
    expect(await sink.recheck(inFlight)).toEqual([]);
    expect(await totalEvents(redis, prefix)).toBe(6);

    // Redelivering everything changes nothing.
    const redelivered = await sink.write([1, 2, 3, 4, 5, 6].map((n) => engagementEnvelope(n)));
    expect(redelivered.duplicates).toHaveLength(6);
    expect(await totalEvents(redis, prefix)).toBe(6);
  });
});
