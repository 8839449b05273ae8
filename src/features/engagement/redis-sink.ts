import type Redis from 'ioredis';
import { readFileSync } from 'node:fs';
import type { Clock } from '../../platform/clock.ts';
import { AppError, errorMessage, terminal, transient } from '../../platform/errors.ts';
import { emptyResult, type Sink, type SinkResult } from '../../platform/stream/sink.ts';
import type { Envelope } from '../../platform/stream/types.ts';
import type { EngagementEvent } from './model.ts';
import { liveKeys } from './keys.ts';
import { bucketExpiresAtMs, bucketOf, BUCKET_MS, EXPIRY_MARGIN_MS, isLate } from './window.ts';

const SCRIPT = readFileSync(new URL('./aggregate.lua', import.meta.url), 'utf8');
/** Deletes the lock only if it still holds our token (it may have expired and been taken by another instance). */
const RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

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
  /**
   * The events of the live window from the system of record (the warehouse), page by page: when Redis comes
   * back empty (a restart without persistence), the window is rebuilt from them before anything else is applied.
   */
  rebuildFrom?: (fromMs: number) => AsyncIterable<EngagementEvent[]>;
  /** Told when a rebuild starts and ends (status, logs). */
  onRebuild?: (info: { phase: 'start' } | { phase: 'end'; events: number; ms: number }) => void;
};

type Mode = 'write' | 'rebuild';

export const REDIS_SINK = 'redis';

/**
 * Live aggregates in Redis. One Lua script call per chunk applies each event at most once (a per-bucket set of
 * applied ids, kept longer than the window) together with its aggregate updates, atomically.
 *
 * An acknowledged write is in Redis's memory only (the server may run without persistence). A restart is
 * detected by the epoch key the state was built under: the script refuses to write when it is missing, the
 * sink then rebuilds the live window from the warehouse (through the same script, so each event once) under a
 * new epoch, and before a batch is committed `recheck` answers the events acknowledged under an older epoch,
 * which are written again. So the aggregates are *rebuilt* from the system of record, never double counted.
 */
export class RedisEngagementSink implements Sink<EngagementEvent> {
  readonly name = REDIS_SINK;
  private readonly recentCap: number;
  private readonly timeoutMs: number;
  private readonly chunkSize: number;
  /** The epoch each acknowledged envelope was written under. */
  private readonly epochs = new WeakMap<Envelope<EngagementEvent>, string>();
  private rebuilding: Promise<void> | undefined;

  constructor(private options: RedisSinkOptions) {
    if (!Number.isInteger(options.windowMinutes) || options.windowMinutes < 1) throw new Error(`windowMinutes must be a positive integer (got ${options.windowMinutes})`);
    this.recentCap = options.recentCap ?? 50;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.chunkSize = options.chunkSize ?? 500;
    options.redis.defineCommand('sillageAggregate', { numberOfKeys: 0, lua: SCRIPT });
  }

  async write(batch: Envelope<EngagementEvent>[]): Promise<SinkResult> {
    return this.apply(batch, 'write');
  }

  private async apply(batch: Envelope<EngagementEvent>[], mode: Mode): Promise<SinkResult> {
    const result = emptyResult();
    const { prefix, windowMinutes, clock } = this.options;
    const now = clock.now();
    const ttlSeconds = Math.ceil((windowMinutes * BUCKET_MS + EXPIRY_MARGIN_MS) / 1000);
    const todo: { envelope: Envelope<EngagementEvent>; arg: string }[] = [];
    let late = 0;
    for (const envelope of batch) {
      const { id, value: e } = envelope;
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
        envelope,
        arg: JSON.stringify({
          i: id, b: String(bucket), x: String(Math.ceil(bucketExpiresAtMs(bucket, windowMinutes) / 1000)), c: e.content_id, y: e.content_type,
          e: e.event_type, u: e.user_id, ms: e.duration_ms ?? undefined, p: e.engagement_pct === null ? undefined : String(e.engagement_pct),
          r: JSON.stringify(recent), s: e.slug, t: e.title, l: e.length_seconds ?? undefined,
        }),
      });
    }
    if (late && mode === 'write') this.options.onLate?.(late);
    for (let i = 0; i < todo.length; i += this.chunkSize) {
      const chunk = todo.slice(i, i + this.chunkSize);
      const args = [prefix, String(ttlSeconds), String(this.recentCap), mode, ...chunk.map((c) => c.arg)];
      let reply = await this.run(args);
      // Redis has lost its state: rebuild the window first, then apply this chunk under the new epoch.
      for (let round = 0; reply[0] === '' && mode === 'write'; round++) {
        if (round >= 3) throw transient('redis_rebuilding', 'Redis lost its data and the live window is being rebuilt; the batch will be retried.');
        await this.rebuild();
        reply = await this.run(args);
      }
      const epoch = String(reply[0]);
      chunk.forEach(({ envelope }, j) => {
        const code = reply[j + 1];
        if (code === 1 || code === 0) {
          (code === 1 ? result.applied : result.duplicates).push(envelope.id);
          if (mode === 'write') this.epochs.set(envelope, epoch);
        } else
          result.failed.push({
            id: envelope.id,
            error: terminal('redis_wrong_type', `A Redis key for event ${envelope.id} holds another type; something else writes under prefix "${prefix}". Nothing was applied for it.`),
          });
      });
    }
    return result;
  }

  /** Events acknowledged under an epoch that is no longer current: Redis restarted since, so their effect is gone. */
  async recheck(acknowledged: Envelope<EngagementEvent>[]): Promise<string[]> {
    const written = acknowledged.filter((e) => this.epochs.has(e));
    if (!written.length) return [];
    let current: string | null;
    try {
      current = await this.options.redis.get(liveKeys(this.options.prefix).epoch);
    } catch (error) {
      throw classifyRedisError(error);
    }
    return written.filter((e) => this.epochs.get(e) !== current).map((e) => e.id);
  }

  /**
   * Rebuilds the live window from the warehouse under a new epoch. One process at a time (a lock key); the
   * others wait for the epoch to reappear. Events applied meanwhile by the rebuild and by retried batches meet
   * in the same per-bucket id sets, so each counts once.
   */
  private rebuild(): Promise<void> {
    this.rebuilding ??= (async () => {
      const { redis, prefix, clock, windowMinutes } = this.options;
      const k = liveKeys(prefix);
      const token = crypto.randomUUID();
      try {
        if (await redis.get(k.epoch)) return;
        if ((await redis.set(k.rebuildLock, token, 'PX', 300_000, 'NX')) !== 'OK')
          throw transient('redis_rebuilding', 'Another instance is rebuilding the live window in Redis; the batch will be retried.');
        try {
          const started = clock.now();
          this.options.onRebuild?.({ phase: 'start' });
          let events = 0;
          if (this.options.rebuildFrom) {
            const fromMs = (bucketOf(started) - windowMinutes + 1) * BUCKET_MS;
            for await (const page of this.options.rebuildFrom(fromMs)) {
              const result = await this.apply(
                page.map((value) => ({ id: `engagement_events:${value.id}`, value, record: { topic: 'warehouse', partition: 0, offset: value.id, key: null, value: null, headers: {}, timestampMs: 0 } })),
                'rebuild',
              );
              events += result.applied.length;
            }
          }
          await redis.set(k.epoch, token);
          this.options.onRebuild?.({ phase: 'end', events, ms: clock.now() - started });
        } finally {
          await redis.eval(RELEASE, 1, k.rebuildLock, token).catch(() => {});
        }
      } catch (error) {
        throw classifyRedisError(error);
      }
    })().finally(() => {
      this.rebuilding = undefined;
    });
    return this.rebuilding;
  }

  private async run(args: string[]): Promise<(number | string)[]> {
    let timer: Timer | undefined;
    try {
      const call = (this.options.redis as unknown as { sillageAggregate(...a: string[]): Promise<(number | string)[]> }).sillageAggregate(...args);
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
