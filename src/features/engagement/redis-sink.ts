import type Redis from 'ioredis';
import { readFileSync } from 'node:fs';
import type { Clock } from '../../platform/clock.ts';
import { AppError, errorMessage, terminal, transient } from '../../platform/errors.ts';
import { emptyResult, type Sink, type SinkResult } from '../../platform/stream/sink.ts';
import type { Envelope } from '../../platform/stream/types.ts';
import type { EngagementEvent } from './model.ts';
import { bucketExpiresAtMs, bucketOf, BUCKET_MS, EXPIRY_MARGIN_MS, isLate } from './window.ts';

const SCRIPT = readFileSync(new URL('./aggregate.lua', import.meta.url), 'utf8');

/** Redis replies that can succeed later: server loading, busy with a script, failing over, out of memory until keys expire, or persistence failing. */
const TRANSIENT_REPLY = /^(LOADING|BUSY|TRYAGAIN|READONLY|MASTERDOWN|CLUSTERDOWN|OOM|MISCONF|NOREPLICAS)\b/;

/** Transient (the connection, a restarting or full server) vs terminal (a script error, a bug, corrupted keys). */
export function classifyRedisError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const message = errorMessage(error);
  const isReply = (error as { name?: string })?.name === 'ReplyError';
  if (isReply && !TRANSIENT_REPLY.test(message))
    return terminal('redis_rejected', `Redis rejected the aggregate update: ${message}. Check that nothing else writes under this REDIS_KEY_PREFIX.`, error);
  return transient('redis_unavailable', `Redis is unreachable or busy (${message}); the batch will be retried.`, { cause: error });
}

export type RedisSinkOptions = {
  redis: Redis;
  prefix: string;
  windowMinutes: number;
  clock: Clock;
  /** Length of each content's recent-events list. */
  recentCap?: number;
  /** A script call that takes longer is treated as lost (transient). */
  timeoutMs?: number;
  /** Events per script call: bounds how long Redis is blocked by one call. */
  chunkSize?: number;
  /** Counts events too old for any live window (applied without effect). */
  onLate?: (count: number) => void;
};

/**
 * Live aggregates in Redis. One Lua script call per chunk applies each event at most once (a per-bucket set of
 * applied ids, kept longer than the window) together with its aggregate updates, atomically. An acknowledged
 * write is in Redis's memory; surviving a Redis restart depends on the server's persistence (AOF).
 */
export class RedisEngagementSink implements Sink<EngagementEvent> {
  readonly name = 'redis';
  private readonly recentCap: number;
  private readonly timeoutMs: number;
  private readonly chunkSize: number;

  constructor(private options: RedisSinkOptions) {
    if (!Number.isInteger(options.windowMinutes) || options.windowMinutes < 1) throw new Error(`windowMinutes must be a positive integer (got ${options.windowMinutes})`);
    this.recentCap = options.recentCap ?? 50;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.chunkSize = options.chunkSize ?? 500;
    options.redis.defineCommand('sillageAggregate', { numberOfKeys: 0, lua: SCRIPT });
  }

  async write(batch: Envelope<EngagementEvent>[]): Promise<SinkResult> {
    const result = emptyResult();
    const { prefix, windowMinutes, clock } = this.options;
    const now = clock.now();
    const ttlSeconds = Math.ceil((windowMinutes * BUCKET_MS + EXPIRY_MARGIN_MS) / 1000);
    const todo: { id: string; arg: string }[] = [];
    let late = 0;
    for (const { id, value: e } of batch) {
      const at = Date.parse(e.event_ts);
      if (!Number.isFinite(at) || !e.content_id || !e.user_id) {
        result.failed.push({ id, error: terminal('invalid_for_sink', `Event ${id} has no usable event_ts, content_id or user_id; Redis cannot place it in a window.`) });
        continue;
      }
      const bucket = bucketOf(at);
      if (isLate(bucket, now, windowMinutes)) {
        late++;
        result.applied.push(id);
        continue;
      }
      const recent = {
        id: e.id, content_id: e.content_id, user_id: e.user_id, event_type: e.event_type, event_ts: e.event_ts, duration_ms: e.duration_ms,
        device: e.device, engagement_seconds: e.engagement_seconds, engagement_pct: e.engagement_pct, engagement_pct_capped: e.engagement_pct_capped,
      };
      todo.push({
        id,
        arg: JSON.stringify({
          i: id, b: String(bucket), x: String(Math.ceil(bucketExpiresAtMs(bucket, windowMinutes) / 1000)), c: e.content_id, y: e.content_type,
          e: e.event_type, u: e.user_id, ms: e.duration_ms ?? undefined, p: e.engagement_pct === null ? undefined : String(e.engagement_pct),
          r: JSON.stringify(recent), s: e.slug, t: e.title, l: e.length_seconds ?? undefined,
        }),
      });
    }
    if (late) this.options.onLate?.(late);
    for (let i = 0; i < todo.length; i += this.chunkSize) {
      const chunk = todo.slice(i, i + this.chunkSize);
      const codes = await this.run([prefix, String(ttlSeconds), String(this.recentCap), ...chunk.map((c) => c.arg)]);
      chunk.forEach(({ id }, j) => {
        const code = codes[j];
        if (code === 1) result.applied.push(id);
        else if (code === 0) result.duplicates.push(id);
        else result.failed.push({ id, error: terminal('redis_wrong_type', `A Redis key for event ${id} holds another type; something else writes under prefix "${prefix}". Nothing was applied for it.`) });
      });
    }
    return result;
  }

  private async run(args: string[]): Promise<number[]> {
    let timer: Timer | undefined;
    try {
      const call = (this.options.redis as unknown as { sillageAggregate(...a: string[]): Promise<number[]> }).sillageAggregate(...args);
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(transient('redis_timeout', `Redis did not answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      });
      return await Promise.race([call, timeout]);
    } catch (error) {
      throw classifyRedisError(error);
    } finally {
      clearTimeout(timer);
    }
  }

  async check() {
    await this.options.redis.ping();
  }

  async close() {}
}
