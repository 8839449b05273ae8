import type Redis from 'ioredis';
import type { WindowRef, WindowResult } from './aggregate.ts';

/**
 * The newest result of each key of a job, in Redis, for fast reads (`?latest=true`, the dashboard). Two hashes
 * per job: `<prefix>streams:<job>:latest` (key → result JSON) and `…:latest_start` (key → window start), so the
 * compare-and-set runs in Lua without decoding JSON. A late re-emission of an older window never replaces a newer
 * one, and a retracted window is removed only if it is the one shown.
 *
 * Redis is written after the Postgres commit, so it may lag it (never lead it). Postgres is the truth: the job
 * rebuilds these hashes from it at start, and readers rebuild them when they are missing.
 */

const APPLY = `
local nret = tonumber(ARGV[1])
local i = 2
for _ = 1, nret do
  local cur = redis.call('HGET', KEYS[2], ARGV[i])
  if cur and tonumber(cur) == tonumber(ARGV[i + 1]) then
    redis.call('HDEL', KEYS[1], ARGV[i])
    redis.call('HDEL', KEYS[2], ARGV[i])
  end
  i = i + 2
end
while i <= #ARGV do
  local cur = redis.call('HGET', KEYS[2], ARGV[i])
  if not cur or tonumber(cur) <= tonumber(ARGV[i + 1]) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  end
  i = i + 3
end
return 1`;

/** The JSON stored per key (and served by the API as is). */
export type LatestValue = Omit<WindowResult, 'key'> & { key: string };

export class RedisLatest {
  private readonly values: string;
  private readonly starts: string;

  constructor(
    private redis: Redis,
    prefix: string,
    job: string,
  ) {
    this.values = `${prefix}streams:${job}:latest`;
    this.starts = `${prefix}streams:${job}:latest_start`;
  }

  /** Applies retractions, then results, each only where it is not older than what is shown. */
  async apply(results: readonly WindowResult[], retracted: readonly WindowRef[]): Promise<void> {
    // Every retraction before any result (a merged session's new start is older than the one it retracts), and
    // one script call per chunk so each stays short (Redis runs scripts atomically, blocking other clients).
    const CHUNK = 2000;
    for (let i = 0; i < retracted.length; i += CHUNK) {
      const args: (string | number)[] = [Math.min(CHUNK, retracted.length - i)];
      for (const r of retracted.slice(i, i + CHUNK)) args.push(r.key, r.start);
      await this.redis.eval(APPLY, 2, this.values, this.starts, ...args);
    }
    for (let i = 0; i < results.length; i += CHUNK) {
      const args: (string | number)[] = [0];
      for (const r of results.slice(i, i + CHUNK)) args.push(r.key, r.start, JSON.stringify(r));
      await this.redis.eval(APPLY, 2, this.values, this.starts, ...args);
    }
  }

  /** Replaces both hashes with the given results (from Postgres), atomically. */
  async rebuild(results: readonly WindowResult[]): Promise<void> {
    const multi = this.redis.multi().del(this.values, this.starts);
    if (results.length) {
      multi.hset(this.values, Object.fromEntries(results.map((r) => [r.key, JSON.stringify(r)])));
      multi.hset(this.starts, Object.fromEntries(results.map((r) => [r.key, String(r.start)])));
    }
    await multi.exec();
  }

  async exists(): Promise<boolean> {
    return (await this.redis.exists(this.values)) === 1;
  }

  /** Latest result of one key, or of every key. */
  async read(key?: string): Promise<WindowResult[]> {
    if (key !== undefined) {
      const v = await this.redis.hget(this.values, key);
      return v ? [JSON.parse(v)] : [];
    }
    const all = await this.redis.hgetall(this.values);
    return Object.values(all).map((v) => JSON.parse(v) as WindowResult);
  }

  async clear(): Promise<void> {
    await this.redis.del(this.values, this.starts);
  }
}
