import { join } from 'node:path';
import { systemClock, type Clock } from '../../platform/clock.ts';
import { ROOT } from '../../platform/context.ts';
import type { Logger } from '../../platform/log.ts';
import { openKafka } from '../../platform/stores/kafka.ts';
import { openPostgres, type Sql } from '../../platform/stores/postgres.ts';
import { openRedis } from '../../platform/stores/redis.ts';
import { FanOut } from '../../platform/stream/fanout.ts';
import { idempotentProducer } from '../../platform/stream/kafka.ts';
import type { Source, SourceBatch } from '../../platform/stream/source.ts';
import { MESSAGE_ID_HEADER, type SourceRecord } from '../../platform/stream/types.ts';
import { createTracing } from '../../platform/tracing.ts';
import { allContent, ContentCatalogue, contentLookup } from './catalogue.ts';
import { engagementEventValue } from './cdc.ts';
import { engagementDeadLetters } from './dead-letters.ts';
import type { EngagementEvent, EngagementEventMessage } from './model.ts';
import type { PipelineOptions } from './options.ts';
import { deliverDecoded, Rejections, type BatchReport, type DecodedEvent, type ProcessorDeps } from './processor.ts';
import { openSinks } from './sinks.ts';
import { ensurePipelineTopics } from './topics.ts';

const DAY_MS = 86_400_000;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A calendar date YYYY-MM-DD, or why it is not one. */
export function parseDay(flag: string, raw: string | undefined): { ok: true; day: string; ms: number } | { ok: false; error: string } {
  const example = `Example: ${flag} 2026-01-01`;
  if (raw === undefined || raw === '') return { ok: false, error: `${flag} is required: a day as YYYY-MM-DD (UTC). ${example}` };
  const m = DATE.exec(raw);
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!m || new Date(ms).toISOString().slice(0, 10) !== raw) return { ok: false, error: `${flag} must be a calendar day as YYYY-MM-DD (got ${JSON.stringify(raw)}). ${example}` };
  return { ok: true, day: raw, ms };
}

/** The date range to backfill, both days included, or the message that says how to fix the flags. */
export function backfillRange(start: string | undefined, end: string | undefined): { ok: true; startDate: string; endDate: string; fromMs: number; toMs: number } | { ok: false; error: string } {
  const s = parseDay('--start-date', start);
  if (!s.ok) return s;
  const e = parseDay('--end-date', end);
  if (!e.ok) return e;
  if (s.ms > e.ms) return { ok: false, error: `--start-date ${s.day} is after --end-date ${e.day}. Swap them: the range runs from the start day to the end day, both included.` };
  return { ok: true, startDate: s.day, endDate: e.day, fromMs: s.ms, toMs: e.ms + DAY_MS };
}

export type Lane = { lane: number; firstId: string; lastId: string; doneId: string; eventsDone: number };
export type BackfillPlan = { job: string; fromMs: number; toMs: number; lanes: Lane[]; total: number; done: number; resumed: boolean };

/**
 * The job's lanes: the id range of the period's events cut into `lanes` contiguous key ranges, each with its
 * checkpoint (the last id whose batch every sink acknowledged). An existing job resumes from its checkpoints
 * unless `restart` is asked for. Events inserted after the plan are the streaming path's.
 */
export async function planBackfill(sql: Sql, o: { startDate: string; endDate: string; fromMs: number; toMs: number; lanes: number; restart: boolean }): Promise<BackfillPlan> {
  const job = `${o.startDate}..${o.endDate}`;
  const from = new Date(o.fromMs);
  const to = new Date(o.toMs);
  if (o.restart) await sql`DELETE FROM engagement_backfill_lanes WHERE job = ${job}`;
  const [stats] = await sql<{ n: string; lo: string | null; hi: string | null }[]>`
    SELECT count(*)::bigint AS n, min(id)::text AS lo, max(id)::text AS hi FROM engagement_events WHERE event_ts >= ${from} AND event_ts < ${to}`;
  const total = Number(stats!.n);
  const existing = await sql<{ lane: number; first_id: string; last_id: string; done_id: string; events_done: string }[]>`
    SELECT lane, first_id::text, last_id::text, done_id::text, events_done::text FROM engagement_backfill_lanes WHERE job = ${job} ORDER BY lane`;
  if (existing.length) {
    const lanes = existing.map((r) => ({ lane: r.lane, firstId: r.first_id, lastId: r.last_id, doneId: r.done_id, eventsDone: Number(r.events_done) }));
    return { job, fromMs: o.fromMs, toMs: o.toMs, lanes, total, done: lanes.reduce((n, l) => n + l.eventsDone, 0), resumed: true };
  }
  const lanes: Lane[] = [];
  if (stats!.lo && stats!.hi) {
    const lo = BigInt(stats!.lo);
    const hi = BigInt(stats!.hi);
    const count = BigInt(Math.max(1, Math.min(o.lanes, total)));
    const width = (hi - lo + count) / count;
    for (let i = 0n; i < count; i++) {
      const first = lo + i * width;
      if (first > hi) break;
      const last = i === count - 1n ? hi : first + width - 1n;
      lanes.push({ lane: Number(i), firstId: String(first), lastId: String(last), doneId: String(first - 1n), eventsDone: 0 });
    }
    await sql`INSERT INTO engagement_backfill_lanes ${sql(lanes.map((l) => ({ job, lane: l.lane, first_id: l.firstId, last_id: l.lastId, done_id: l.doneId })))} ON CONFLICT DO NOTHING`;
  }
  return { job, fromMs: o.fromMs, toMs: o.toMs, lanes, total, done: 0, resumed: false };
}

export type TableBatch = SourceBatch & { rows: Row[] };

/** raw_payload stays JSON text: no sink reads it, so it is parsed only for a dead letter's bytes. */
type Row = { id: string; content_id: string | null; user_id: string; event_type: string; event_ts: Date; duration_ms: number | null; device: string | null; raw_payload: string | null };

/**
 * `engagement_events` of a period as a Source: each lane reads its key range in id order (keyset pages of
 * `batchSize`), one batch at a time; committing a batch moves the lane's checkpoint. The records look like the
 * CDC relay's (same value, same `message-id`), so sinks dedupe a backfilled event against a streamed one.
 */
export class TableSource implements Source {
  readonly name = 'postgres:engagement_events';
  constructor(private o: { sql: Sql; plan: BackfillPlan; batchSize: number; topic: string }) {}

  /** Hands over batches that also carry the rows they were made from. */
  async run(handle: (batch: TableBatch) => Promise<void>, signal: AbortSignal): Promise<void> {
    const { sql, plan, batchSize, topic } = this.o;
    const from = new Date(plan.fromMs);
    const to = new Date(plan.toMs);
    await Promise.all(
      plan.lanes.map(async (lane) => {
        while (!signal.aborted && BigInt(lane.doneId) < BigInt(lane.lastId)) {
          const rows = await sql<Row[]>`
            SELECT id::text, content_id::text, user_id::text, event_type, event_ts, duration_ms, device, raw_payload::text AS raw_payload
            FROM engagement_events
            WHERE id > ${lane.doneId}::bigint AND id <= ${lane.lastId}::bigint AND event_ts >= ${from} AND event_ts < ${to}
            ORDER BY engagement_events.id LIMIT ${batchSize}`;
          const upTo = rows.length < batchSize ? lane.lastId : rows.at(-1)!.id;
          const records: SourceRecord[] = rows.map((r) => ({
            topic,
            partition: -1,
            offset: r.id,
            key: r.content_id ? Buffer.from(r.content_id) : null,
            // The bytes CDC would have produced, made only when the record is dead-lettered (rarely).
            get value() {
              return Buffer.from(JSON.stringify(engagementEventValue({ ...r, raw_payload: r.raw_payload === null ? null : JSON.parse(r.raw_payload) })));
            },
            headers: { [MESSAGE_ID_HEADER]: `engagement_events:${r.id}`, source: 'backfill' },
            timestampMs: r.event_ts.getTime(),
          }));
          await handle({
            lane: `backfill/${lane.lane}`,
            records,
            rows,
            commit: async () => {
              await sql`UPDATE engagement_backfill_lanes SET done_id = ${upTo}::bigint, events_done = events_done + ${rows.length}, updated_at = now()
                        WHERE job = ${plan.job} AND lane = ${lane.lane}`;
              lane.doneId = upTo;
              lane.eventsDone += rows.length;
            },
          });
        }
      }),
    );
  }
}

/**
 * Rows read straight from the table are valid by the table's constraints: no JSON round trip, no schema check.
 * raw_payload is left out of the event (no sink reads it; a dead letter's bytes keep it).
 */
function decodedOf(records: SourceRecord[], rows: Row[]): DecodedEvent[] {
  return rows.map((r, i) => ({ record: records[i]!, id: `engagement_events:${r.id}`, event: engagementEventValue({ ...r, raw_payload: null }) as EngagementEventMessage, committedAt: null }));
}

export type BackfillProgress = { done: number; total: number; perSink: Record<string, { applied: number; duplicates: number; deadLettered: number }>; rejected: number };
export type BackfillSummary = BackfillProgress & { job: string; resumed: boolean; interrupted: boolean; ms: number; eventsThisRun: number };

/**
 * Backfill: the period's rows through the same enrichment and the same sinks as the stream (no Kafka on the way:
 * the table is already an ordered, replayable log, and the sinks' idempotence makes direct writes safe next to
 * the stream), checkpointed per lane. Dead letters go to the same DLQ.
 */
export async function runBackfill(
  o: PipelineOptions,
  req: { startDate: string; endDate: string; fromMs: number; toMs: number; lanes: number; batchSize: number; restart: boolean },
  deps: { log: Logger; clock?: Clock; onPlan?: (plan: BackfillPlan) => void; onProgress?: (p: BackfillProgress) => void },
  signal: AbortSignal,
): Promise<BackfillSummary> {
  const clock = deps.clock ?? systemClock;
  const log = deps.log.child({ component: 'engagement-backfill' });
  const pg = openPostgres({ url: o.databaseUrl, schema: o.names.schema, migrationsDir: join(ROOT, 'db/postgres'), max: req.lanes + 2 });
  const redis = openRedis({ url: o.redisUrl, prefix: o.redisPrefix });
  const kafka = openKafka({ brokers: o.brokers, clientId: 'sillage-backfill', log });
  const producer = idempotentProducer(kafka.kafka);
  const tracing = await createTracing(o.tracing);
  const sinks = await openSinks({ ...o, batchSize: req.batchSize }, { redis: redis.redis, clock });
  try {
    await pg.migrate();
    await sinks.warehouse.prepare();
    await ensurePipelineTopics(await kafka.admin(), o.names, o.partitions);
    await producer.connect();
    const plan = await planBackfill(pg.sql, req);
    deps.onPlan?.(plan);
    const catalogue = new ContentCatalogue({ lookup: contentLookup(pg.sql), log });
    // The whole catalogue up front (a few thousand rows at most); content added meanwhile is looked up on a miss.
    for (const c of await allContent(pg.sql)) catalogue.put(c);
    const fanOut = new FanOut<EngagementEvent>({ sinks: sinks.entries, clock, log });
    const procDeps: ProcessorDeps = { catalogue, fanOut, deadLetters: engagementDeadLetters({ producer, topic: o.names.dlqTopic, sql: pg.sql }), clock, log };
    const progress: BackfillProgress = { done: plan.done, total: plan.total, perSink: {}, rejected: 0 };
    const started = clock.now();
    let eventsThisRun = 0;
    const source = new TableSource({ sql: pg.sql, plan, batchSize: req.batchSize, topic: o.names.eventsTopic });
    await source.run(async (batch) => {
      const { rows } = batch;
      const report: BatchReport = await tracing.span('engagement.backfill.batch', { 'messaging.destination.name': batch.lane, 'messaging.batch.message_count': rows.length }, () =>
        deliverDecoded(procDeps, batch, decodedOf(batch.records, rows), new Rejections(clock), clock.now(), signal),
      );
      eventsThisRun += report.records;
      progress.done += report.records;
      progress.rejected += Object.values(report.rejectedBy).reduce((a, b) => a + b, 0);
      for (const [name, s] of Object.entries(report.perSink)) {
        const p = (progress.perSink[name] ??= { applied: 0, duplicates: 0, deadLettered: 0 });
        p.applied += s.applied;
        p.duplicates += s.duplicates;
        p.deadLettered += s.deadLettered;
      }
      deps.onProgress?.(progress);
    }, signal);
    return { ...progress, job: plan.job, resumed: plan.resumed, interrupted: signal.aborted, ms: clock.now() - started, eventsThisRun };
  } finally {
    await sinks.close();
    await tracing.shutdown().catch(() => {});
    await producer.disconnect().catch(() => {});
    await kafka.close();
    await redis.close();
    await pg.close();
  }
}
