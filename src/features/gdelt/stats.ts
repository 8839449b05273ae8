import { timestampValue, type DuckDBTimestampValue } from '@duckdb/node-api';
import { notFound } from '../../platform/errors.ts';
import type { Lookups } from './lookups.ts';
import type { LakeQuery } from './query.ts';
import { matchClause, summarize, timeWindow, type EventSummary } from './search.ts';
import { msOfDoc, ROW_BITS, type SearchIndex } from './search-index.ts';

export type GroupBy = 'day' | 'root_code' | 'country' | 'quad_class';
export type Interval = '15m' | 'hour' | 'day';
export type StatItem = { key: string; label: string | null; count: number; avg_tone: number | null; avg_goldstein: number | null };

const KEY: Record<GroupBy, string> = {
  day: "strftime(DATEADDED, '%Y-%m-%d')",
  root_code: 'EventRootCode',
  country: 'ActionGeo_CountryCode',
  quad_class: 'QuadClass::VARCHAR',
};

const QUAD: Record<string, string> = { '1': 'Verbal cooperation', '2': 'Material cooperation', '3': 'Verbal conflict', '4': 'Material conflict' };

function label(lookups: Lookups, groupBy: GroupBy | 'time', key: string): string | null {
  if (groupBy === 'root_code') return lookups.eventCodes.get(key)?.description ?? null;
  if (groupBy === 'country') return lookups.fipsCountries.get(key) ?? null;
  if (groupBy === 'quad_class') return QUAD[key] ?? null;
  return null;
}

const toTimestamp = (ms: number) => timestampValue(BigInt(ms) * 1000n);

type Agg = { key: string | null; count: number | string; avg_tone: number | null; avg_goldstein: number | null };
const shape = (lookups: Lookups, groupBy: GroupBy | 'time') => (r: Agg): StatItem => ({
  key: r.key ?? 'unknown',
  label: r.key ? label(lookups, groupBy, r.key) : null,
  count: Number(r.count),
  avg_tone: r.avg_tone,
  avg_goldstein: r.avg_goldstein,
});

export type MatchFilters = { query?: string; country?: string; event_code?: string; actor?: string };
const filtered = (p: MatchFilters) => p.query !== undefined || !!p.country || !!p.event_code || !!p.actor;

/** SQLite key of a group over the index's `ev` rows (the doc number holds the 15-minute slot). */
const INDEX_KEY: Record<GroupBy, string> = {
  day: `strftime('%Y-%m-%d', (ev.doc / ${2 ** ROW_BITS}) * 900, 'unixepoch')`,
  root_code: 'substr(ev.code, 1, 2)',
  country: 'ev.country',
  quad_class: 'CAST(ev.quad AS TEXT)',
};

/**
 * Counts, average tone and average Goldstein per group. Without search filters, by DuckDB over the lake's Parquet
 * files in the window (files are chosen from the catalog by batch time, then rows by DATEADDED). With any of
 * query/country/event_code/actor, over the search index with the same matching as search, so the groups add up to
 * the search total. Codes get their names attached.
 */
export async function stats(
  q: LakeQuery,
  index: SearchIndex,
  lookups: Lookups,
  p: { since?: string; until?: string; group_by: GroupBy } & MatchFilters,
): Promise<{ items: StatItem[] }> {
  if (filtered(p)) {
    const m = matchClause(p);
    const rows = index.db
      .query<Agg, (string | number)[]>(
        `SELECT ${INDEX_KEY[p.group_by]} AS key, count(*) AS count, avg(ev.tone) AS avg_tone, avg(ev.goldstein) AS avg_goldstein
         FROM ${m.from} ${m.where.length ? `WHERE ${m.where.join(' AND ')}` : ''}
         GROUP BY 1 ORDER BY ${p.group_by === 'day' ? 'key' : 'count DESC, key'}`,
      )
      .all(...m.args);
    return { items: rows.map(shape(lookups, p.group_by)) };
  }
  const { fromMs, toMs } = timeWindow(p.since, p.until);
  const files = await q.files('events', fromMs, toMs);
  if (!files.length) return { items: [] };
  const where: string[] = [];
  const params: Record<string, DuckDBTimestampValue> = {};
  if (fromMs !== undefined) {
    where.push('DATEADDED >= $from');
    params.from = toTimestamp(fromMs);
  }
  if (toMs !== undefined) {
    where.push('DATEADDED < $to');
    params.to = toTimestamp(toMs);
  }
  const source = await q.source('events', files);
  const rows = await q.all<Agg>(
    `SELECT ${KEY[p.group_by]} AS key, count(*) AS count, avg(AvgTone) AS avg_tone, avg(GoldsteinScale) AS avg_goldstein
     FROM ${source.from} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     GROUP BY ALL ORDER BY ${p.group_by === 'day' ? 'key' : 'count DESC, key'}`,
    params,
    source.lists,
  );
  return { items: rows.map(shape(lookups, p.group_by)) };
}

const BUCKET_MS: Record<Interval, number> = { '15m': 15 * 60_000, hour: 3_600_000, day: 86_400_000 };

/**
 * Events over time. With any of query/country/event_code/actor, the matching events come from the search index
 * (the same matching as search); without, DuckDB counts every event in the lake. Keys are ISO bucket starts.
 */
export async function timeline(
  q: LakeQuery,
  index: SearchIndex,
  lookups: Lookups,
  p: { since?: string; until?: string; interval: Interval } & MatchFilters,
): Promise<{ items: StatItem[] }> {
  const bucketMs = BUCKET_MS[p.interval];
  if (filtered(p)) {
    const m = matchClause(p);
    const rows = index.db
      .query<{ doc: number; tone: number | null; goldstein: number | null }, (string | number)[]>(
        `SELECT ev.doc, ev.tone, ev.goldstein FROM ${m.from} ${m.where.length ? `WHERE ${m.where.join(' AND ')}` : ''}`,
      )
      .all(...m.args);
    const buckets = new Map<number, { n: number; tone: number; toneN: number; g: number; gN: number }>();
    for (const r of rows) {
      const k = Math.floor(msOfDoc(r.doc) / bucketMs) * bucketMs;
      let b = buckets.get(k);
      if (!b) buckets.set(k, (b = { n: 0, tone: 0, toneN: 0, g: 0, gN: 0 }));
      b.n++;
      if (r.tone !== null) (b.tone += r.tone), b.toneN++;
      if (r.goldstein !== null) (b.g += r.goldstein), b.gN++;
    }
    return {
      items: [...buckets]
        .sort(([a], [b]) => a - b)
        .map(([k, b]) => ({ key: new Date(k).toISOString(), label: null, count: b.n, avg_tone: b.toneN ? b.tone / b.toneN : null, avg_goldstein: b.gN ? b.g / b.gN : null })),
    };
  }
  const { fromMs, toMs } = timeWindow(p.since, p.until);
  const files = await q.files('events', fromMs, toMs);
  if (!files.length) return { items: [] };
  const where: string[] = [];
  const params: Record<string, DuckDBTimestampValue> = {};
  if (fromMs !== undefined) (where.push('DATEADDED >= $from'), (params.from = toTimestamp(fromMs)));
  if (toMs !== undefined) (where.push('DATEADDED < $to'), (params.to = toTimestamp(toMs)));
  const source = await q.source('events', files);
  const rows = await q.all<Agg>(
    `SELECT strftime(time_bucket(INTERVAL ${bucketMs / 60_000} MINUTE, DATEADDED), '%Y-%m-%dT%H:%M:%S.000Z') AS key,
       count(*) AS count, avg(AvgTone) AS avg_tone, avg(GoldsteinScale) AS avg_goldstein
     FROM ${source.from} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} GROUP BY ALL ORDER BY key`,
    params,
    source.lists,
  );
  return { items: rows.map(shape(lookups, 'time')) };
}

export type EventDetail = EventSummary & { batch: string; fields: Record<string, unknown>; names: Record<string, string | null> };

/**
 * One event with every column: the index says which batch holds it, DuckDB reads that one Parquet file. Codes
 * get their CAMEO names.
 */
export async function getEvent(q: LakeQuery, index: SearchIndex, lookups: Lookups, id: number): Promise<EventDetail> {
  const row = index.db.query<Parameters<typeof summarize>[0] & { batch: string }, [number]>('SELECT * FROM ev WHERE id = ?').get(id);
  if (!row) throw notFound('Event', id);
  const file = (await q.files('events')).find((f) => f.batch === row.batch);
  if (!file) throw notFound('Event', id);
  const [fields] = await q.all<Record<string, unknown>>('SELECT * FROM read_parquet($files) WHERE GLOBALEVENTID = $id', { id: BigInt(id) }, { files: [file.path] });
  if (!fields) throw notFound('Event', id);
  const s = (k: string) => (typeof fields[k] === 'string' ? (fields[k] as string) : null);
  const name = (m: Map<string, string>, k: string) => (s(k) ? (m.get(s(k)!) ?? null) : null);
  return {
    ...summarize(row, lookups),
    batch: row.batch,
    fields,
    names: {
      Actor1CountryCode: name(lookups.actorCountries, 'Actor1CountryCode'),
      Actor2CountryCode: name(lookups.actorCountries, 'Actor2CountryCode'),
      Actor1KnownGroupCode: name(lookups.knownGroups, 'Actor1KnownGroupCode'),
      Actor2KnownGroupCode: name(lookups.knownGroups, 'Actor2KnownGroupCode'),
      Actor1Type1Code: name(lookups.types, 'Actor1Type1Code'),
      Actor2Type1Code: name(lookups.types, 'Actor2Type1Code'),
      Actor1EthnicCode: name(lookups.ethnic, 'Actor1EthnicCode'),
      Actor2EthnicCode: name(lookups.ethnic, 'Actor2EthnicCode'),
      Actor1Religion1Code: name(lookups.religions, 'Actor1Religion1Code'),
      Actor2Religion1Code: name(lookups.religions, 'Actor2Religion1Code'),
      EventBaseCode: s('EventBaseCode') ? (lookups.eventCodes.get(s('EventBaseCode')!)?.description ?? null) : null,
      QuadClass: QUAD[String(fields.QuadClass)] ?? null,
      ActionGeo_CountryCode: name(lookups.fipsCountries, 'ActionGeo_CountryCode'),
    },
  };
}
