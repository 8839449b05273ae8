import type { Clock } from '../../platform/clock.ts';
import { errorMessage } from '../../platform/errors.ts';
import type { Logger } from '../../platform/log.ts';
import { noTracing, type Tracing } from '../../platform/tracing.ts';
import { deliverThenCommit, type Settled } from '../../platform/stream/ack.ts';
import type { DeadLetter, DeadLetterPublisher } from '../../platform/stream/dlq.ts';
import type { FanOut } from '../../platform/stream/fanout.ts';
import type { Source, SourceBatch } from '../../platform/stream/source.ts';
import { MESSAGE_ID_HEADER, type Envelope, type SourceRecord } from '../../platform/stream/types.ts';
import type { ContentCatalogue } from './catalogue.ts';
import { EngagementEventMessage, type EngagementEvent } from './model.ts';
import { REDIS_SINK } from './redis-sink.ts';
import { enrich } from './transform.ts';

export const COMMIT_TS_HEADER = 'source-commit-ts';

export type Decoded = { ok: true; id: string; event: EngagementEventMessage; committedAt: string | null } | { ok: false; reason: string; error: string };

/** Bytes → a validated event, or the reason it is not one (never a throw: a bad message must not stop the consumer). */
export function decodeEvent(record: SourceRecord): Decoded {
  if (!record.value || !record.value.length) return { ok: false, reason: 'malformed_message', error: 'The message has no value (a tombstone or an empty record).' };
  let json: unknown;
  try {
    json = JSON.parse(record.value.toString('utf8'));
  } catch (e) {
    return { ok: false, reason: 'malformed_json', error: `The message value is not JSON: ${errorMessage(e)}` };
  }
  const parsed = EngagementEventMessage.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    return { ok: false, reason: 'invalid_event', error: `The message is not an engagement event: ${issues.join('; ')}` };
  }
  return { ok: true, id: record.headers[MESSAGE_ID_HEADER] ?? `engagement_events:${parsed.data.id}`, event: parsed.data, committedAt: record.headers[COMMIT_TS_HEADER] ?? null };
}

export type ProcessorDeps = {
  catalogue: ContentCatalogue;
  fanOut: FanOut<EngagementEvent>;
  deadLetters: DeadLetterPublisher;
  clock: Clock;
  log: Logger;
  /** Waits for content that is not known yet (its row may still be on its way) before dead-lettering the event. */
  unknownContent?: { retries: number; delayMs: number };
  /** One span per batch (no-op unless OTEL_EXPORTER_OTLP_ENDPOINT is set). */
  tracing?: Tracing;
};

export type BatchReport = Settled & {
  records: number;
  envelopes: number;
  rejectedBy: Record<string, number>;
  /** Per delivered event: ms from source commit (or event time when unknown) to every sink settled and the batch committed. */
  endToEndMs: number[];
  /** Per event Redis acknowledged: ms from source commit (or event time) until then, when it shows in the live API. */
  toRedisMs: number[];
  ms: number;
};

/** An event decoded from its record (or, for backfill, read from its row), ready for enrichment. */
export type DecodedEvent = { record: SourceRecord; id: string; event: EngagementEventMessage; committedAt: string | null };

/** A batch's records refused before the fan-out (decode, enrichment), counted by reason. */
export class Rejections {
  readonly letters: DeadLetter[] = [];
  readonly byReason: Record<string, number> = {};
  constructor(private clock: Clock) {}
  add(record: SourceRecord, reason: string, error: string, id?: string) {
    const now = this.clock.now();
    this.letters.push({ record, id, reason, error, attempts: 1, firstFailureMs: now, lastFailureMs: now });
    this.byReason[reason] = (this.byReason[reason] ?? 0) + 1;
  }
}

/** decode → enrich (content join) → transform → fan out to every sink → dead letters → commit. */
export async function processBatch(deps: ProcessorDeps, batch: SourceBatch, signal?: AbortSignal): Promise<BatchReport> {
  const started = deps.clock.now();
  const rejected = new Rejections(deps.clock);
  const decoded: DecodedEvent[] = [];
  for (const record of batch.records) {
    const d = decodeEvent(record);
    if (d.ok) decoded.push({ record, ...d });
    else rejected.add(record, d.reason, d.error);
  }
  return deliverDecoded(deps, batch, decoded, rejected, started, signal);
}

/** The stages after decoding, shared by the stream processor and backfill so both paths enrich and dedupe alike. */
export async function deliverDecoded(deps: ProcessorDeps, batch: SourceBatch, decoded: DecodedEvent[], rejected: Rejections, started: number, signal?: AbortSignal): Promise<BatchReport> {
  const { clock, catalogue } = deps;
  const wanted = decoded.flatMap((d) => (d.event.content_id ? [d.event.content_id] : []));
  let contents = await catalogue.resolve(wanted);
  const { retries, delayMs } = deps.unknownContent ?? { retries: 3, delayMs: 250 };
  for (let i = 0; i < retries && wanted.some((id) => !contents.has(id)); i++) {
    await clock.sleep(delayMs * 2 ** i, signal);
    contents = await catalogue.resolve(wanted);
  }

  const envelopes: Envelope<EngagementEvent>[] = [];
  for (const d of decoded) {
    const contentId = d.event.content_id;
    const content = contentId ? contents.get(contentId) : undefined;
    if (!contentId || !content) {
      rejected.add(d.record, 'unknown_content', contentId ? `Content ${contentId} is neither in the content topic nor in the content table.` : 'The event has no content_id.', d.id);
      continue;
    }
    envelopes.push({ id: d.id, value: enrich({ ...d.event, content_id: contentId }, content, d.committedAt), record: d.record });
  }

  const settled = await deliverThenCommit({ batch, envelopes, rejected: rejected.letters, fanOut: deps.fanOut, deadLetters: deps.deadLetters, signal });
  const now = clock.now();
  const sourceMs = (e: Envelope<EngagementEvent>) => Date.parse(e.value.committed_at ?? e.value.event_ts);
  const endToEndMs = envelopes.map((e) => now - sourceMs(e));
  const redis = settled.perSink[REDIS_SINK];
  const notInRedis = new Set(settled.deadLetters.filter((d) => d.sink === REDIS_SINK).map((d) => d.id));
  const toRedisMs = redis ? envelopes.filter((e) => !notInRedis.has(e.id)).map((e) => redis.settledAtMs - sourceMs(e)) : [];
  return { ...settled, records: batch.records.length, envelopes: envelopes.length, rejectedBy: rejected.byReason, endToEndMs, toRedisMs, ms: now - started };
}

/** Runs the processor until the signal aborts; a batch that throws is not committed and comes again. */
export async function runProcessor(deps: ProcessorDeps & { source: Source; onBatch?: (report: BatchReport, batch: SourceBatch) => void }, signal: AbortSignal) {
  const tracing = deps.tracing ?? noTracing;
  await deps.source.run(async (batch) => {
    const report = await tracing.span('engagement.batch', { 'messaging.destination.name': batch.lane, 'messaging.batch.message_count': batch.records.length }, () =>
      processBatch(deps, batch, signal),
    );
    deps.onBatch?.(report, batch);
  }, signal);
}
