import Redis from 'ioredis';

export type RedisStore = {
  redis: Redis;
  /** Prefix every key of this deployment starts with (tests use a unique one). */
  prefix: string;
  check(): Promise<Record<string, unknown>>;
  close(): Promise<void>;
};

export function openRedis(options: { url: string; prefix: string; commandTimeoutMs?: number }): RedisStore {
  const redis = new Redis(options.url, {
    lazyConnect: true,
    connectTimeout: 2000,
    // A hung server (not a closed one) must not hold API requests or pipeline batches forever.
    commandTimeout: options.commandTimeoutMs ?? 5000,
    // Fail commands fast while disconnected instead of queueing them forever; callers retry with backoff.
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  // ioredis emits 'error' on every failed reconnect; health and callers report it, so the event is only absorbed.
  redis.on('error', () => {});
  const connect = async () => {
    if (redis.status === 'wait' || redis.status === 'end') await redis.connect().catch(() => {});
  };
  return {
    redis,
    prefix: options.prefix,
    check: async () => {
      await connect();
      await redis.ping();
      return {};
    },
    close: async () => {
      redis.disconnect();
    },
  };
}
