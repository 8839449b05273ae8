import type { Clock } from '../../../platform/clock.ts';
import { MicroBatcher } from '../../../platform/stream/batcher.ts';
import { emptyResult, type SinkResult } from '../../../platform/stream/sink.ts';
import { terminal, type AppError } from '../../../platform/errors.ts';
import type { Envelope } from '../../../platform/stream/types.ts';
import { CONTENT_TYPES, EVENT_TYPES, type ContentType, type EngagementEvent } from '../model.ts';

/** One row of `engagement_facts`, the same columns in every warehouse. */
export type Fact = {
  event_id: string;
  content_id: string;
  content_type: ContentType;
  slug: string;
  title: string;
  length_seconds: number | null;
  user_id: string;
  event_type: string;
  event_ts: string;
  duration_ms: number | null;
  device: string | null;
  engagement_seconds: number | null;
  engagement_pct: number | null;
  engagement_pct_capped: boolean;
  committed_at: string | null;
};

export const FACT_COLUMNS = [
  'event_id', 'content_id', 'content_type', 'slug', 'title', 'length_seconds', 'user_id', 'event_type', 'event_ts',
  'duration_ms', 'device', 'engagement_seconds', 'engagement_pct', 'engagement_pct_capped', 'committed_at',
] as const satisfies readonly (keyof Fact)[];

/** Already in the canonical form (what the pipeline produces): no need to parse and print it again. */
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const intOrNull = (v: unknown) => v === null || (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 2_147_483_647);
const numberOrNull = (v: unknown) => v === null || (typeof v === 'number' && Number.isFinite(v));

/**
 * The fact an envelope becomes, or why it cannot be one. Checked here, row by row, so one bad event fails alone
 * (terminal: no retry can fix its data) instead of failing the statement that carries the whole batch.
 */
export function factOf(envelope: Envelope<EngagementEvent>): Fact | AppError {
  const e = envelope.value;
  const problems: string[] = [];
  if (!/^\d{1,18}$/.test(String(e.id))) problems.push(`id ${JSON.stringify(e.id)} is not a positive integer`);
  if (!UUID.test(e.content_id ?? '')) problems.push('content_id is not a uuid');
  if (!UUID.test(e.user_id ?? '')) problems.push('user_id is not a uuid');
  if (!(EVENT_TYPES as readonly string[]).includes(e.event_type)) problems.push(`event_type ${JSON.stringify(e.event_type)} is not one of ${EVENT_TYPES.join(', ')}`);
  if (!(CONTENT_TYPES as readonly string[]).includes(e.content_type)) problems.push(`content_type ${JSON.stringify(e.content_type)} is not one of ${CONTENT_TYPES.join(', ')}`);
  if (!Number.isFinite(Date.parse(e.event_ts))) problems.push(`event_ts ${JSON.stringify(e.event_ts)} is not a time`);
  if (!intOrNull(e.duration_ms) || !intOrNull(e.length_seconds)) problems.push('duration_ms and length_seconds must be non-negative integers or null');
  if (!numberOrNull(e.engagement_seconds) || !numberOrNull(e.engagement_pct)) problems.push('engagement_seconds and engagement_pct must be numbers or null');
  if (problems.length) return terminal('invalid_for_sink', `Event ${envelope.id} cannot be stored in the warehouse: ${problems.join('; ')}.`);
  return {
    event_id: String(e.id),
    content_id: e.content_id.toLowerCase(),
    content_type: e.content_type,
    slug: e.slug,
    title: e.title,
    length_seconds: e.length_seconds,
    user_id: e.user_id.toLowerCase(),
    event_type: e.event_type,
    event_ts: ISO_UTC.test(e.event_ts) ? e.event_ts : new Date(e.event_ts).toISOString(),
    duration_ms: e.duration_ms,
    device: e.device,
    engagement_seconds: e.engagement_seconds,
    engagement_pct: e.engagement_pct,
    engagement_pct_capped: !!e.engagement_pct_capped,
    committed_at: e.committed_at && Number.isFinite(Date.parse(e.committed_at)) ? new Date(e.committed_at).toISOString() : null,
  };
}

/** A stored fact back as the event the sinks receive (used to rebuild the live aggregates from the warehouse). */
export function eventOfFact(f: Fact): EngagementEvent {
  return {
    id: f.event_id,
    content_id: f.content_id,
    user_id: f.user_id,
    event_type: f.event_type as EngagementEvent['event_type'],
    event_ts: f.event_ts,
    duration_ms: f.duration_ms,
    device: f.device,
    raw_payload: null,
    slug: f.slug,
    title: f.title,
    content_type: f.content_type,
    length_seconds: f.length_seconds,
    engagement_seconds: f.engagement_seconds,
    engagement_pct: f.engagement_pct,
    engagement_pct_capped: f.engagement_pct_capped,
    committed_at: f.committed_at,
  };
}

export type FactOutcome = 'applied' | 'duplicate' | AppError;

/**
 * The sink result of a batch from one outcome per envelope, reporting each id once (a caller that passed one id
 * twice gets it once; FanOut hands over unique ids anyway).
 */
function resultOf(batch: readonly { id: string }[], outcomes: readonly FactOutcome[]): SinkResult {
  const result = emptyResult();
  const seen = new Set<string>();
  outcomes.forEach((o, i) => {
    const id = batch[i]!.id;
    if (seen.has(id)) return;
    seen.add(id);
    if (o === 'applied') result.applied.push(id);
    else if (o === 'duplicate') result.duplicates.push(id);
    else result.failed.push({ id, error: o });
  });
  return result;
}

/**
 * Runs a flush over facts that may repeat an id (two writers racing into one micro-batch): each id is stored
 * once by `store`, which answers the ids it inserted; the first occurrence of an id gets that outcome and any
 * later one is a duplicate.
 */
export type Stored = { inserted: Set<string>; rejected?: Map<string, AppError> };

async function flushFacts(items: Envelope<EngagementEvent>[], store: (facts: Fact[]) => Promise<Stored>): Promise<FactOutcome[]> {
  const outcomes: FactOutcome[] = new Array(items.length);
  const unique = new Map<string, number>();
  const facts: Fact[] = [];
  items.forEach((item, i) => {
    const fact = factOf(item);
    if (!('event_id' in fact)) {
      outcomes[i] = fact;
      return;
    }
    if (unique.has(fact.event_id)) {
      outcomes[i] = 'duplicate';
      return;
    }
    unique.set(fact.event_id, i);
    facts.push(fact);
  });
  const { inserted, rejected } = facts.length ? await store(facts) : { inserted: new Set<string>() };
  for (const [id, i] of unique) outcomes[i] = rejected?.get(id) ?? (inserted.has(id) ? 'applied' : 'duplicate');
  // A later copy of a rejected id shares its fate.
  items.forEach((item, i) => {
    if (outcomes[i] !== 'duplicate') return;
    const fact = factOf(item);
    const first = 'event_id' in fact ? outcomes[unique.get(fact.event_id)!] : undefined;
    if (first && first !== 'applied' && first !== 'duplicate') outcomes[i] = first;
  });
  return outcomes;
}

export type FactWriter = { write(batch: Envelope<EngagementEvent>[]): Promise<SinkResult>; drain(): Promise<void> };

/**
 * What every warehouse puts in front of its store: the envelopes of concurrent writers gather into one flush of
 * `flushRows` facts at most (or what waited `flushIntervalMs`), which `store` writes once per id. A partition whose
 * batch waits behind another's flush would stall, so a store that takes several writers lets a few flushes run at
 * once (`maxConcurrentFlushes`, 1 by default). A failed flush fails each of its writes with `failed(error)`.
 */
export function factWriter(options: {
  flushRows: number;
  flushIntervalMs: number;
  clock?: Clock;
  maxConcurrentFlushes?: number;
  store(facts: Fact[]): Promise<Stored>;
  failed(error: unknown): AppError;
}): FactWriter {
  const batcher = new MicroBatcher({
    maxItems: options.flushRows,
    maxWaitMs: options.flushIntervalMs,
    clock: options.clock,
    maxConcurrentFlushes: options.maxConcurrentFlushes,
    flush: (items: Envelope<EngagementEvent>[]) => flushFacts(items, options.store),
  });
  return {
    async write(batch) {
      let outcomes: FactOutcome[];
      try {
        outcomes = await batcher.submit(batch);
      } catch (error) {
        throw options.failed(error);
      }
      return resultOf(batch, outcomes);
    },
    drain: () => batcher.drain(),
  };
}

/** Daily or hourly measures of one content, as the warehouse API answers them. */
export type SummaryRow = {
  content_id: string;
  content_type: string;
  events: number;
  plays: number;
  pauses: number;
  finishes: number;
  clicks: number;
  unique_users: number;
  total_engagement_seconds: number;
  avg_engagement_seconds: number | null;
  avg_completion_pct: number | null;
};
export type DailyRow = SummaryRow & { day: string };
export type HourlyRow = SummaryRow & { hour: string };

/** A period of whole UTC days (both ends included), optionally one content or one content type. */
export type WarehouseQuery = { from: string; to: string; contentId?: string; contentType?: ContentType; limit: number };

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;
const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/** Normalises a row read from any warehouse driver (bigint, numeric strings, Date) into the API's numbers. */
export function summaryOf(r: Record<string, unknown>): SummaryRow {
  const avgSec = num(r.avg_engagement_seconds);
  const avgPct = num(r.avg_completion_pct);
  return {
    content_id: String(r.content_id),
    content_type: String(r.content_type),
    events: Number(r.events),
    plays: Number(r.plays),
    pauses: Number(r.pauses),
    finishes: Number(r.finishes),
    clicks: Number(r.clicks),
    unique_users: Number(r.unique_users),
    total_engagement_seconds: round(Number(r.total_engagement_seconds ?? 0), 3),
    avg_engagement_seconds: avgSec === null ? null : round(avgSec, 3),
    avg_completion_pct: avgPct === null ? null : round(avgPct, 2),
  };
}
