import Redis from 'ioredis';
import { systemClock } from '../../src/platform/clock.ts';
import { liveKeys } from '../../src/features/engagement/keys.ts';
import { RedisEngagementSink } from '../../src/features/engagement/redis-sink.ts';
import { engagementEnvelope, SAMPLE_CONTENT } from '../helpers/engagement.ts';
import { services, skipReason, uniqueName } from '../helpers/index.ts';
import { deleteKeys } from '../helpers/redis.ts';
import { sinkContract } from './sink-contract.ts';

const CONTENT = SAMPLE_CONTENT;
const POISONED = '00000000-0000-4000-8000-0000000000ff';

sinkContract(
  'Redis live aggregates',
  async () => {
    const prefix = `${uniqueName('sink')}:`;
    const redis = new Redis(services.redis!);
    const reader = new Redis(services.redis!);
    const sink = new RedisEngagementSink({ redis, prefix, windowMinutes: 10, clock: systemClock });
    const k = liveKeys(prefix);
    return {
      sink,
      envelope: (n) => engagementEnvelope(n),
      async effects(ids) {
        const lists = await Promise.all(
          [...CONTENT, POISONED].map(async (c) => ((await reader.type(k.recent(c))) === 'list' ? reader.lrange(k.recent(c), 0, -1) : [])),
        );
        const seen = lists.flat().map((s) => `engagement_events:${JSON.parse(s).id}`);
        return new Map(ids.map((id) => [id, seen.filter((s) => s === id).length]));
      },
      async poison() {
        // Something else wrote a plain string where the sink keeps a list: no retry can fix that.
        await reader.set(k.recent(POISONED), 'not a list');
        return engagementEnvelope(999, { content_id: POISONED });
      },
      async unreachable() {
        const dead = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
        dead.on('error', () => {});
        const broken = new RedisEngagementSink({ redis: dead, prefix, windowMinutes: 10, clock: systemClock });
        return Object.assign(broken, { close: async () => dead.disconnect() });
      },
      async cleanup() {
        await deleteKeys(reader, prefix);
        redis.disconnect();
        reader.disconnect();
      },
    };
  },
  { skip: skipReason('redis') },
);
