import type Redis from 'ioredis';

/** Deletes every key under `prefix`, in batches (SCAN, not KEYS, so a large keyspace does not block the server). */
export async function deleteKeys(redis: Redis, prefix: string) {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}
